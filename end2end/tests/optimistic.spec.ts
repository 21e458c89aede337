import { expect, test, type Page } from "@playwright/test";
import { BANK_ADMIN, enqueue, signIn, trackErrors, waitForHydration } from "./helpers";

const NORTHWIND_ADMIN = "admin@northwind.example";

/**
 * Holds the next call of server function `endpoint` until `release()`, so a
 * test can look at the page while the action is still on its way.
 */
async function hold(page: Page, endpoint: string) {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let arrive!: () => void;
  const arrived = new Promise<void>((resolve) => (arrive = resolve));
  await page.route(
    `**/api/${endpoint}*`,
    async (route) => {
      arrive();
      await released;
      await route.continue();
    },
    { times: 1 },
  );
  return { arrived, release };
}

test("a cancel shows at once, and the server's answer keeps it", async ({ page }) => {
  const errors = trackErrors(page);
  await signIn(page, NORTHWIND_ADMIN);
  await enqueue(page, `Optimistic cancel ${Date.now()}`, '{"delay_ms": 30000}');
  await waitForHydration(page);
  await expect(page.getByTestId("job-status")).toHaveText("running", { timeout: 6000 });
  const call = await hold(page, "job_action");

  await page.getByTestId("job-cancel").click();
  await call.arrived;

  // the server has not answered yet
  await expect(page.getByTestId("job-status")).toHaveText("cancelling");
  await expect(page.getByTestId("job-cancel")).toBeDisabled();
  call.release();
  await expect(page.getByRole("status").filter({ hasText: "Cancellation requested" })).toBeVisible();
  await expect(page.getByTestId("job-status")).toHaveText("cancelled", { timeout: 6000 });
  expect(errors).toEqual([]);
});

test("a refused delete puts the job back and says why", async ({ page }) => {
  await signIn(page, NORTHWIND_ADMIN);
  await enqueue(page, `Optimistic refusal ${Date.now()}`, '{"fail_with": "kept for its failure record"}');
  await waitForHydration(page);
  await expect(page.getByTestId("job-status")).toHaveText("failed", { timeout: 6000 });
  const call = await hold(page, "job_action");

  await page.getByTestId("job-delete").click();
  await call.arrived;
  await expect(page.getByTestId("job-status")).toHaveText("deleted");
  call.release();

  await expect(
    page.getByRole("alert").filter({ hasText: "This job has an unresolved failure: resolve it before deleting the job." }),
  ).toBeVisible();
  await expect(page.getByTestId("job-status")).toHaveText("failed");
  await expect(page.getByTestId("job-delete")).toBeEnabled();
});

test("a resolution shows on its failure at once", async ({ page }) => {
  await signIn(page, NORTHWIND_ADMIN);
  const name = `Optimistic resolution ${Date.now()}`;
  await enqueue(page, name, '{"fail_with": "to be resolved"}');
  await waitForHydration(page);
  await expect(page.getByTestId("job-status")).toHaveText("failed", { timeout: 6000 });
  await page.goto("/failed-jobs?status=open");
  await waitForHydration(page);
  const row = page.getByTestId("failed-row").filter({ hasText: name });
  await expect(row.getByTestId("failure-state")).toHaveText("open");
  await row.getByTestId("resolution-note").fill("Checked with the customer");
  const call = await hold(page, "resolve_failed_jobs");

  await row.getByTestId("resolve-failed").click();
  await call.arrived;
  await expect(row.getByTestId("failure-state")).toHaveText("resolved");
  await expect(row.getByTestId("retry-failed")).toBeDisabled();
  call.release();

  await expect(page.getByTestId("list-notice")).toContainText("resolved");
  await expect(page.getByTestId("failed-row").filter({ hasText: name })).toHaveCount(0);
});

test("a bulk cancel shows on the ticked rows at once, and only on them", async ({ page }) => {
  await signIn(page, NORTHWIND_ADMIN);
  const name = `Bulk optimistic ${Date.now()}`;
  await enqueue(page, `${name} A`, '{"delay_ms": 30000}');
  await enqueue(page, `${name} B`, '{"delay_ms": 30000}');
  await page.goto(`/jobs?q=${encodeURIComponent(name)}`);
  await waitForHydration(page);
  const ticked = page.getByTestId("job-row").filter({ hasText: `${name} A` });
  const other = page.getByTestId("job-row").filter({ hasText: `${name} B` });
  await expect(ticked.getByTestId("job-row-status")).toHaveText("running", { timeout: 6000 });
  await expect(other.getByTestId("job-row-status")).toHaveText("running", { timeout: 6000 });
  await ticked.getByTestId("select-row").check();
  await page.getByTestId("bulk-action").selectOption("cancel");
  await page.getByTestId("bulk-selected").click();
  await expect(page.getByTestId("bulk-prompt")).toHaveText("Cancel 1 of 1 jobs?");
  const call = await hold(page, "bulk_jobs");

  await page.getByTestId("bulk-confirm").click();
  await call.arrived;
  await expect(ticked.getByTestId("job-row-status")).toHaveText("cancelling");
  await expect(other.getByTestId("job-row-status")).toHaveText("running");
  call.release();

  await expect(page.getByRole("status").filter({ hasText: "cancel" })).toBeVisible();
  await expect(ticked.getByTestId("job-row-status")).toHaveText("cancelled", { timeout: 6000 });
  await expect(other.getByTestId("job-row-status")).toHaveText("running");
});

test("a queue's pause shows at once, and the server's answer keeps it", async ({ page }) => {
  await signIn(page, BANK_ADMIN);
  await page.goto("/queues");
  await waitForHydration(page);
  const name = `optimistic_${Date.now()}`;
  await page.getByTestId("new-queue-name").fill(name);
  await page.getByTestId("create-queue").click();
  const row = page.getByTestId("queue-row").filter({ hasText: name });
  await expect(row.getByTestId("queue-state")).toHaveText("active");
  const call = await hold(page, "set_queue_paused");

  await row.getByTestId("toggle-queue").click();
  await call.arrived;
  await expect(row.getByTestId("queue-state")).toHaveText("paused");
  await expect(row.getByTestId("toggle-queue")).toHaveText("Resume");
  call.release();

  await expect(page.getByRole("status").filter({ hasText: `Queue ${name} paused.` })).toBeVisible();
  await expect(row.getByTestId("queue-state")).toHaveText("paused");
});
