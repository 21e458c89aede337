import { expect, test } from "@playwright/test";
import { DEMO_PASSWORD, signIn, trackErrors, waitForHydration } from "./helpers";

const HARBOR_VIEWER = "viewer@harbor.example";
const NEW_PASSWORD = "harbor viewer's own passphrase";

/** Opens the password form through the header's Account link. */
async function openPasswordForm(page: import("@playwright/test").Page) {
  await page.getByTestId("account-link").click();
  await expect(page.getByRole("heading", { name: "Account" })).toBeVisible();
  await page.getByTestId("change-password-link").click();
}

async function changePassword(page: import("@playwright/test").Page, from: string, to: string) {
  await openPasswordForm(page);
  await expect(page.getByRole("heading", { name: "Change password" })).toBeVisible();
  await waitForHydration(page);
  await page.getByLabel("Current password").fill(from);
  await page.getByTestId("new-password").fill(to);
  await page.getByTestId("new-password-again").fill(to);
  await page.getByRole("button", { name: "Change password" }).click();
  await expect(page.getByRole("status")).toHaveText("Your password was changed.");
}

test("a person changes their password and signs in with the new one", async ({ page }) => {
  const errors = trackErrors(page);
  await signIn(page, HARBOR_VIEWER);
  await openPasswordForm(page);
  await waitForHydration(page);
  // the two new passwords must agree before anything is sent
  await page.getByLabel("Current password").fill(DEMO_PASSWORD);
  await page.getByTestId("new-password").fill(NEW_PASSWORD);
  await page.getByTestId("new-password-again").fill("something else entirely");
  await expect(page.getByText("The two new passwords differ.")).toBeVisible();
  await expect(page.getByRole("button", { name: "Change password" })).toBeDisabled();
  await page.goto("/");
  await changePassword(page, DEMO_PASSWORD, NEW_PASSWORD);

  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/login/);
  await signIn(page, HARBOR_VIEWER, NEW_PASSWORD);
  // back to the demo password, for the other specs
  await changePassword(page, NEW_PASSWORD, DEMO_PASSWORD);
  expect(errors).toEqual([]);
});

test("a person signs out another browser from their account page", async ({ page: here, browser, baseURL }) => {
  const elsewhere = await (await browser.newContext({ baseURL })).newPage();
  const errors = trackErrors(here);
  await signIn(elsewhere, HARBOR_VIEWER);
  await signIn(here, HARBOR_VIEWER);
  await here.getByTestId("account-link").click();
  await waitForHydration(here);
  await expect(here.getByTestId("current-session")).toHaveCount(1);
  const others = here.getByTestId("sign-out-session");
  await expect(others.first()).toBeVisible();
  const before = await others.count();

  await here.getByTestId("sign-out-others").click();

  await expect(here.getByRole("status")).toContainText("signed out");
  await expect(here.getByTestId("sign-out-session")).toHaveCount(0);
  expect(before).toBeGreaterThan(0);
  await elsewhere.goto("/jobs");
  await expect(elsewhere).toHaveURL(/\/login/);
  expect(errors).toEqual([]);
});
