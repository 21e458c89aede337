import { expect, test } from "@playwright/test";
import { BANK_ADMIN, signIn, trackErrors, waitForHydration } from "./helpers";

const NORTHWIND_ADMIN = "admin@northwind.example";
const HARBOR_ADMIN = "admin@harbor.example";

test("an org admin enqueues a job in the console and sees it complete", async ({ page }) => {
  const errors = trackErrors(page);
  await signIn(page, NORTHWIND_ADMIN);
  await page.goto("/jobs");
  await waitForHydration(page);
  await page.getByTestId("new-job").click();
  await expect(page.getByRole("heading", { name: "New job" })).toBeVisible();

  await page.getByTestId("job-type").selectOption("other");
  await page.getByTestId("job-name").fill("Pipeline check from the console");
  // a broken payload is caught while typing and cannot be submitted
  await page.getByTestId("job-payload").fill('{"delay_ms": 50,}');
  await expect(page.getByTestId("payload-problem")).toContainText("not valid JSON");
  await expect(page.getByRole("button", { name: "Enqueue job" })).toBeDisabled();
  await page.getByTestId("job-payload").fill('{"delay_ms": 50}');
  await expect(page.getByTestId("payload-problem")).toBeEmpty();
  await page.getByRole("button", { name: "Enqueue job" }).click();

  await expect(page).toHaveURL(/\/jobs\/[0-9a-f-]{36}$/);
  await expect(page.getByRole("heading", { name: "Pipeline check from the console" })).toBeVisible();
  // the page follows the job live
  await waitForHydration(page);
  await expect(page.getByTestId("job-status")).toHaveText("completed", { timeout: 20_000 });
  await expect(page.getByTestId("job-result")).toContainText('"waited_ms": 50');
  expect(errors).toEqual([]);
});

test("a running job's page shows its worker to bank admins and hydrates", async ({ page, browser }) => {
  const errors = trackErrors(page);
  await signIn(page, NORTHWIND_ADMIN);
  await page.goto("/jobs/new");
  await waitForHydration(page);
  await page.getByTestId("job-type").selectOption("other");
  await page.getByTestId("job-name").fill("Long running diagnostic");
  await page.getByTestId("job-payload").fill('{"delay_ms": 20000}');
  await page.getByRole("button", { name: "Enqueue job" }).click();
  await expect(page).toHaveURL(/\/jobs\/[0-9a-f-]{36}$/);
  // the page follows the job live
  await waitForHydration(page);
  await expect(page.getByTestId("job-status")).toHaveText("running", { timeout: 10_000 });
  await waitForHydration(page);
  // the organization's own admin does not see the bank's hosts and processes
  await expect(page.getByTestId("job-worker")).toHaveCount(0);
  const jobUrl = page.url();
  const bank = await browser.newContext({ baseURL: new URL(jobUrl).origin });
  const bankPage = await bank.newPage();
  const bankErrors = trackErrors(bankPage);
  await signIn(bankPage, BANK_ADMIN);
  await bankPage.goto(jobUrl);
  await waitForHydration(bankPage);
  await expect(bankPage.getByTestId("job-worker")).not.toBeEmpty();
  await bank.close();
  expect(errors).toEqual([]);
  expect(bankErrors).toEqual([]);
});

test("a failed email is fixed by making its template, then retried from the Failed jobs tab", async ({ page }) => {
  await signIn(page, HARBOR_ADMIN);
  await page.goto("/failed-jobs?status=open");
  await waitForHydration(page);
  // the demo's emails failed for real: they name a template nobody has made
  const row = page
    .getByTestId("failed-row")
    .filter({ has: page.locator("code", { hasText: /^email$/ }) })
    .first();
  await expect(row).toContainText('There is no email template named "statement_ready"');
  const jobLink = await row.locator("a.name").getAttribute("href");

  await page.goto("/integrations");
  await page.getByTestId("templates-link").click();
  await page.getByTestId("new-template").click();
  await expect(page).toHaveURL(/\/integrations\/templates\/new$/);
  await waitForHydration(page);
  await page.getByTestId("template-name").fill("statement_ready");
  await page.getByTestId("template-subject").fill("Your statement is ready");
  await page.getByTestId("template-text").fill("Dear {{name}}, your statement is ready.");
  await expect(page.getByTestId("template-places")).toHaveText("name");
  await page.getByTestId("save-template").click();
  await expect(page).toHaveURL(/\/integrations\/templates\/[0-9a-f-]{36}$/);

  await page.goto("/failed-jobs?status=open");
  await waitForHydration(page);
  const same = page.getByTestId("failed-row").filter({ has: page.locator(`a.name[href="${jobLink}"]`) });
  const retried = page.waitForResponse((r) => r.url().includes("/api/retry_failed_job") && r.ok());
  await same.getByTestId("retry-failed").click();
  await retried;
  // the outcome stays above the list while the list reloads
  await expect(page.getByTestId("list-notice")).toContainText("Job queued to run again.");
  await page.goto(jobLink!);
  await waitForHydration(page);
  // sent with the new template: the organization has no mail server, so
  // the message goes to the outbox
  await expect(page.getByTestId("job-status")).toHaveText("completed", { timeout: 10_000 });
});

test("a failure is resolved with a note", async ({ page }) => {
  await signIn(page, HARBOR_ADMIN);
  await page.goto("/failed-jobs?status=open");
  await waitForHydration(page);
  const row = page.getByTestId("failed-row").last();
  const note = "Customer confirmed by phone; no resend needed";
  await row.getByTestId("resolution-note").fill(note);
  const resolved = page.waitForResponse((r) => r.url().includes("/api/resolve_failed_job") && r.ok());
  await row.getByTestId("resolve-failed").click();
  await resolved;
  await page.goto("/failed-jobs?status=resolved");
  await waitForHydration(page);
  await expect(page.getByTestId("failed-row").filter({ hasText: note })).toHaveCount(1);
});

test("an unfinished batch is cancelled", async ({ page }) => {
  await signIn(page, HARBOR_ADMIN);
  await page.goto("/batches?status=running");
  await waitForHydration(page);
  const row = page.getByTestId("batch-row").first();
  const name = (await row.locator(".name").textContent())!.trim();
  const cancelled = page.waitForResponse((r) => r.url().includes("/api/cancel_batch") && r.ok());
  await row.getByTestId("cancel-batch").click();
  await cancelled;
  // the reloaded list no longer shows the batch; the outcome is still there
  await expect(page.getByTestId("batch-row").filter({ hasText: name })).toHaveCount(0);
  await expect(page.getByTestId("list-notice")).toContainText("Batch cancelled;");
  await page.goto("/batches?status=cancelled");
  await waitForHydration(page);
  await expect(page.getByTestId("batch-row").filter({ hasText: name })).toHaveCount(1);
});

test("a viewer sees no write actions and the queues view shows backlog", async ({ page }) => {
  await signIn(page, "viewer@harbor.example");
  await page.goto("/jobs");
  await waitForHydration(page);
  await expect(page.getByTestId("new-job")).toHaveCount(0);
  await page.goto("/queues");
  await waitForHydration(page);
  await expect(page.getByTestId("queue-row").filter({ hasText: "notifications" })).toHaveCount(1);
  await expect(page.getByTestId("toggle-queue")).toHaveCount(0);
});
