import { expect, test } from "@playwright/test";
import { BANK_ADMIN, signIn, trackErrors, waitForHydration } from "./helpers";

const TABS: [string, string, string][] = [
  ["Jobs", "/jobs", "job-row"],
  ["Batches", "/batches", "batch-row"],
  ["Failed jobs", "/failed-jobs", "failed-row"],
  ["API logs", "/api-logs", "api-log-row"],
  ["Integrations", "/integrations", "integration-row"],
  ["Webhooks", "/webhooks", "webhook-row"],
];

test("tabs navigate, mark the active tab and hydrate without console errors", async ({ page }) => {
  const errors = trackErrors(page);
  await signIn(page, BANK_ADMIN);
  const nav = page.getByRole("navigation", { name: "Console sections" });
  await expect(nav.getByRole("link", { name: "Overview" })).toHaveAttribute("aria-current", "page");

  for (const [label, path, rowId] of TABS) {
    await nav.getByRole("link", { name: label, exact: true }).click();
    await expect(page).toHaveURL(new RegExp(`${path}$`));
    await expect(page.getByRole("heading", { level: 1, name: label })).toBeVisible();
    await expect(nav.getByRole("link", { name: label, exact: true })).toHaveAttribute("aria-current", "page");
    await expect(nav.locator("[aria-current=page]")).toHaveCount(1);
    await expect(page.getByTestId(rowId).first()).toBeVisible();
  }

  // a shared URL opens the same tab directly
  await page.goto("/failed-jobs");
  await waitForHydration(page);
  await expect(nav.getByRole("link", { name: "Failed jobs" })).toHaveAttribute("aria-current", "page");
  expect(errors).toEqual([]);
});

test("the status filter works after hydration and pages are keyset-linked", async ({ page }) => {
  const errors = trackErrors(page);
  await signIn(page, BANK_ADMIN);
  await page.goto("/jobs");
  await waitForHydration(page);
  await page.getByTestId("status-filter").selectOption("failed");
  await expect(page).toHaveURL(/\/jobs\?status=failed$/);
  // the unfiltered page stays shown until the filtered one arrives, and it
  // has failed jobs of its own (the demo's failed webhook deliveries)
  const statuses = page.locator("[data-testid=job-row] td:nth-child(5) .badge");
  await expect
    .poll(async () => [...new Set(await statuses.allTextContents())])
    .toEqual(["failed"]);

  await page.goto("/jobs");
  await page.getByTestId("next-page").click();
  await expect(page).toHaveURL(/cursor=/);
  await expect(page.getByTestId("job-row").first()).toBeVisible();
  expect(errors).toEqual([]);
});

test("signing out makes the console unreachable again", async ({ page }) => {
  await signIn(page, BANK_ADMIN);
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/login/);
  await page.goto("/");
  await expect(page).toHaveURL(/\/login/);
});
