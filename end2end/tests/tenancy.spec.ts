import { expect, test } from "@playwright/test";
import { BANK_ADMIN, HARBOR, NORTHWIND, NORTHWIND_VIEWER, signIn, trackErrors, waitForHydration } from "./helpers";

test("signed out, the console sends you to the login page", async ({ page }) => {
  await page.goto("/jobs");
  await expect(page).toHaveURL(/\/login\?next=\/jobs$/);
  await expect(page.getByRole("button", { name: "Sign in" })).toBeVisible();
});

test("a wrong password is refused with a message", async ({ page }) => {
  await page.goto("/login");
  await waitForHydration(page);
  await page.getByLabel("Email").fill(NORTHWIND_VIEWER);
  await page.getByLabel("Password").fill("not-the-password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await expect(page.getByTestId("login-error")).toHaveText("Email or password is incorrect.");
  await expect(page).toHaveURL(/\/login/);
});

test("an org viewer sees only their organization's jobs", async ({ page }) => {
  const errors = trackErrors(page);
  await signIn(page, NORTHWIND_VIEWER);
  await expect(page.getByTestId("org-name")).toHaveText(NORTHWIND);
  await page.goto("/jobs");
  await waitForHydration(page);
  const rows = page.getByTestId("job-row");
  await expect(rows.first()).toBeVisible();
  expect(await rows.count()).toBeGreaterThan(5);
  // no organization column, no other organization anywhere
  await expect(page.getByRole("columnheader", { name: "Organization" })).toHaveCount(0);
  await expect(page.locator("body")).not.toContainText(HARBOR);
  // trying to widen the scope through the URL changes nothing
  await page.goto("/jobs?org=00000000-0000-0000-0000-000000000000");
  await expect(rows.first()).toBeVisible();
  await expect(page.locator("body")).not.toContainText(HARBOR);
  expect(errors).toEqual([]);
});

test("a bank admin sees both organizations and can narrow to one", async ({ page }) => {
  const errors = trackErrors(page);
  await signIn(page, BANK_ADMIN);
  await page.getByRole("navigation", { name: "Console sections" }).getByRole("link", { name: "Jobs", exact: true }).click();
  await expect(page).toHaveURL(/\/jobs$/);
  const orgCells = page.locator("[data-testid=job-row] td.org");
  await expect(orgCells.first()).toBeVisible();
  const names = new Set(await orgCells.allTextContents());
  expect(names).toEqual(new Set([NORTHWIND, HARBOR]));

  await page.getByTestId("org-filter").selectOption({ label: HARBOR });
  await expect(page).toHaveURL(/\/jobs\?org=[0-9a-f-]{36}$/);
  await expect(orgCells.first()).toHaveText(HARBOR);
  const narrowed = new Set(await orgCells.allTextContents());
  expect(narrowed).toEqual(new Set([HARBOR]));
  expect(errors).toEqual([]);
});
