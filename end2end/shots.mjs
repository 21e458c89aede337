import { chromium } from "@playwright/test";
const base = "http://127.0.0.1:3918";
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] });
for (const [w, h, tag] of [[1366, 800, "laptop"], [820, 1100, "tablet"]]) {
  for (const scheme of ["light", "dark"]) {
    const ctx = await browser.newContext({ viewport: { width: w, height: h }, colorScheme: scheme });
    const page = await ctx.newPage();
    const errors = [];
    page.on("console", (m) => { if (m.type() === "error") errors.push(m.text()); });
    await page.goto(base + "/login");
    await page.waitForSelector("body[data-hydrated=true]");
    await page.getByLabel("Email").fill("bank.admin@veriphy.example");
    await page.getByLabel("Password").fill("veriphy-demo-2026");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Overview" }).waitFor();
    for (const path of ["/queues", "/access", "/account"]) {
      await page.goto(base + path);
      await page.waitForSelector("body[data-hydrated=true]");
      await page.waitForTimeout(500);
      await page.screenshot({ path: `/tmp/shot-${tag}-${scheme}${path.replace("/", "-")}.png`, fullPage: true });
    }
    if (errors.length) console.log(tag, scheme, errors);
    await ctx.close();
  }
}
await browser.close();
