import { chromium } from "@playwright/test";
const base = "http://127.0.0.1:3918";
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking"] });
for (const [name, width, scheme] of [["laptop-light", 1366, "light"], ["tablet-dark", 820, "dark"]]) {
  const ctx = await browser.newContext({ viewport: { width, height: 900 }, colorScheme: scheme, baseURL: base });
  const page = await ctx.newPage();
  const errors = [];
  page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
  await page.goto("/login");
  await page.getByLabel("Email").fill("bank.admin@veriphy.example");
  await page.getByLabel("Password").fill("veriphy-demo-2026");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Overview" }).waitFor();
  await page.goto("/jobs?status=failed");
  await page.locator("[data-testid=job-row] a").first().click();
  await page.waitForURL(/\/jobs\/[0-9a-f-]{36}$/);
  await page.waitForTimeout(1000);
  await page.screenshot({ path: `/tmp/shots/job-${name}.png`, fullPage: true });
  await page.goto("/jobs");
  await page.waitForTimeout(800);
  await page.screenshot({ path: `/tmp/shots/jobs-${name}.png` });
  console.log(name, "errors:", JSON.stringify(errors));
  await ctx.close();
}
await browser.close();
