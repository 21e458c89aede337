import { expect, type Browser, type Page } from "@playwright/test";

/** Password of every demo account (load-demo's default). */
export const DEMO_PASSWORD = process.env.VERIPHY_DEMO_PASSWORD ?? "veriphy-demo-2026";

export const BANK_ADMIN = "bank.admin@veriphy.example";
export const NORTHWIND = "Northwind Lending";
export const HARBOR = "Harbor Credit Union";
export const NORTHWIND_VIEWER = "viewer@northwind.example";

/** Collects console errors and uncaught exceptions of a page. */
export function trackErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on("console", (msg) => {
    if (msg.type() === "error") errors.push(msg.text());
  });
  page.on("pageerror", (err) => errors.push(err.message));
  return errors;
}

/** Waits until the wasm bundle has hydrated the page. */
export async function waitForHydration(page: Page) {
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
}

/** Signs in through the login form and waits for the console. */
export async function signIn(page: Page, email: string, password = DEMO_PASSWORD) {
  await page.goto("/login");
  await waitForHydration(page);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByRole("heading", { name: "Overview" })).toBeVisible();
}

/** A signed-in tab of its own on `path`, connected to the live feed. */
export async function watching(browser: Browser, baseURL: string, email: string, path: string) {
  const context = await browser.newContext({ baseURL });
  const page = await context.newPage();
  const errors = trackErrors(page);
  await signIn(page, email);
  await page.goto(path);
  await waitForHydration(page);
  await expect(page.getByTestId("live-status")).toHaveAttribute("data-state", "live");
  return { page, errors };
}

/** Enqueues a diagnostic job through the console's form. */
export async function enqueue(page: Page, name: string, payload: string) {
  await page.goto("/jobs/new");
  await waitForHydration(page);
  await page.getByTestId("job-type").selectOption("other");
  await page.getByTestId("job-name").fill(name);
  await page.getByTestId("job-payload").fill(payload);
  await page.getByRole("button", { name: "Enqueue job" }).click();
  await expect(page).toHaveURL(/\/jobs\/[0-9a-f-]{36}$/);
}
