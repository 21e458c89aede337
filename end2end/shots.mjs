import { chromium } from "@playwright/test";
const base = "http://127.0.0.1:3918";
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] });
async function session(width, scheme, email = "bank.admin@veriphy.example") {
  const ctx = await browser.newContext({ viewport: { width, height: 900 }, colorScheme: scheme, baseURL: base });
  const page = await ctx.newPage();
  const errors = [];
  page.on("console", (m) => { if (m.type() === "error" || m.type() === "warning") errors.push(m.text()); });
  await page.goto("/login");
  await page.waitForSelector("body[data-hydrated=true]");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill("veriphy-demo-2026");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Overview" }).waitFor();
  return { page, errors };
}
const paths = ["/", "/batches", "/api-logs", "/webhooks", "/access", "/account", "/jobs/new", "/batches/new", "/documents/new"];
for (const [width, scheme] of [[1366, "light"], [820, "dark"]]) {
  const { page, errors } = await session(width, scheme);
  for (const path of paths) {
    await page.goto(path);
    await page.waitForSelector("body[data-hydrated=true]");
    await page.waitForTimeout(300);
    const wide = await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth);
    const name = path === "/" ? "overview" : path.slice(1).replace(/\//g, "-");
    await page.screenshot({ path: `/tmp/dx/shots/${name}-${width}-${scheme}.png`, fullPage: false });
    console.log(path, width, scheme, "sideways:", wide);
  }
  // a batch page
  await page.goto("/batches");
  await page.waitForSelector("body[data-hydrated=true]");
  await page.locator("[data-testid=batch-row] a.name").first().click();
  await page.waitForURL(/\/batches\/[0-9a-f-]{36}$/);
  await page.waitForSelector("body[data-hydrated=true]");
  await page.waitForTimeout(300);
  await page.screenshot({ path: `/tmp/dx/shots/batch-${width}-${scheme}.png` });
  console.log("batch sideways:", await page.evaluate(() => document.documentElement.scrollWidth > window.innerWidth));
  console.log("errors/warnings", errors);
}
await browser.close();
