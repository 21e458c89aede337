import { expect, test } from "@playwright/test";
import { BANK_ADMIN, NORTHWIND, NORTHWIND_VIEWER, signIn, trackErrors, waitForHydration } from "./helpers";

test("a bank admin caps an organization in a queue and lifts the cap", async ({ page }) => {
  const errors = trackErrors(page);
  await signIn(page, BANK_ADMIN);
  await page.goto("/queues");
  await waitForHydration(page);
  await expect(page.getByTestId("no-queue-caps")).toBeVisible();
  const form = page.getByTestId("queue-cap-form");
  await form.getByTestId("queue-cap-queue").selectOption("notifications");
  await form.getByTestId("organization-picker").selectOption({ label: NORTHWIND });
  await form.getByTestId("queue-cap-max").fill("3");
  await page.getByTestId("set-queue-cap").click();

  const cap = page.getByTestId("queue-cap-row");
  await expect(cap).toHaveCount(1);
  await expect(cap).toContainText("notifications");
  await expect(cap).toContainText(NORTHWIND);
  await expect(page.getByRole("status").filter({ hasText: "At most 3" })).toBeVisible();

  await cap.getByTestId("clear-queue-cap").click();
  await expect(page.getByTestId("no-queue-caps")).toBeVisible();
  expect(errors).toEqual([]);
});

test("a bank admin deactivates a user, who is signed out at once, and reactivates them", async ({
  page,
  browser,
  baseURL,
}) => {
  const viewer = await (await browser.newContext({ baseURL })).newPage();
  await signIn(viewer, NORTHWIND_VIEWER);
  const errors = trackErrors(page);
  await signIn(page, BANK_ADMIN);
  await page.goto("/access");
  await waitForHydration(page);
  const row = page.getByTestId("user-access-row").filter({ hasText: NORTHWIND_VIEWER });
  await expect(row).toContainText("active");

  await row.getByTestId("toggle-user").click();

  await expect(page.getByRole("status").filter({ hasText: "deactivated and signed out" })).toBeVisible();
  await expect(row).toContainText("inactive");
  await viewer.goto("/jobs");
  await expect(viewer).toHaveURL(/\/login/);

  await row.getByTestId("toggle-user").click();
  await expect(row).not.toContainText("inactive");
  await signIn(viewer, NORTHWIND_VIEWER);
  expect(errors).toEqual([]);
});

test("a bank admin finds users by email or name", async ({ page }) => {
  const errors = trackErrors(page);
  await signIn(page, BANK_ADMIN);
  await page.goto("/access");
  await waitForHydration(page);

  await page.getByTestId("user-search").fill("viewer");
  await page.getByTestId("user-search-form").getByRole("button", { name: "Search" }).click();

  await expect(page).toHaveURL(/user=viewer/);
  const rows = page.getByTestId("user-access-row");
  await expect(rows).toHaveCount(2);
  await expect(rows.first()).toContainText("viewer@");
  await page.getByTestId("user-search").fill("nobody-like-this");
  await page.getByTestId("user-search-form").getByRole("button", { name: "Search" }).click();
  await expect(page.getByTestId("no-users")).toHaveText("No user matches.");
  expect(errors).toEqual([]);
});
