import { expect, test } from "@playwright/test";
import { DEMO_PASSWORD, signIn, trackErrors, waitForHydration } from "./helpers";

const HARBOR_VIEWER = "viewer@harbor.example";
const NEW_PASSWORD = "harbor viewer's own passphrase";

async function changePassword(page: import("@playwright/test").Page, from: string, to: string) {
  await page.getByTestId("account-link").click();
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
  await page.getByTestId("account-link").click();
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
