import { expect, test } from "@playwright/test";
import { enqueue, NORTHWIND_VIEWER, signIn, waitForHydration, watching } from "./helpers";

const NORTHWIND_ADMIN = "admin@northwind.example";

test("the Overview counts a failure as it happens and links to the failed jobs of its type", async ({
  page,
  browser,
  baseURL,
}) => {
  const { page: viewer, errors } = await watching(browser, baseURL!, NORTHWIND_VIEWER, "/?period=1h");
  const failedBefore = Number(await viewer.getByTestId("failed-in-period").textContent());

  await signIn(page, NORTHWIND_ADMIN);
  const name = `Overview failure ${Date.now()}`;
  await enqueue(page, name, '{"fail_with": "counted by the Overview"}');

  await expect
    .poll(async () => Number(await viewer.getByTestId("failed-in-period").textContent()), { timeout: 5000 })
    .toBeGreaterThan(failedBefore);
  const otherRow = viewer.getByRole("row").filter({ has: viewer.getByText("other", { exact: true }) });
  await otherRow.getByRole("cell").nth(1).getByRole("link").click();
  await expect(viewer).toHaveURL(/\/jobs\?.*status=failed/);
  await expect(viewer).toHaveURL(/type=other/);
  await expect(viewer.getByTestId("job-row").filter({ hasText: name })).toBeVisible();
  expect(errors).toEqual([]);
});

test("a period is chosen from the Overview's header and kept in the address", async ({ page }) => {
  await signIn(page, NORTHWIND_ADMIN);
  await waitForHydration(page);
  const periods = page.getByRole("navigation", { name: "Period" });
  await expect(periods.getByRole("link", { name: "Last 24 hours" })).toHaveAttribute("aria-current", "page");
  await periods.getByRole("link", { name: "Last 7 days" }).click();
  await expect(page).toHaveURL(/period=7d/);
  await expect(periods.getByRole("link", { name: "Last 7 days" })).toHaveAttribute("aria-current", "page");
  await expect(page.getByRole("img", { name: /Jobs finished per six hours, last 7 days/ })).toBeVisible();
  await page.getByText("as a table").click();
  await expect(page.getByRole("columnheader", { name: "Completed" }).first()).toBeVisible();
});
