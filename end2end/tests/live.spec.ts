import { expect, type Page, test } from "@playwright/test";
import { BANK_ADMIN, enqueue, NORTHWIND_VIEWER, signIn, trackErrors, waitForHydration, watching } from "./helpers";

const NORTHWIND_ADMIN = "admin@northwind.example";
const HARBOR_VIEWER = "viewer@harbor.example";

test("a job appears and completes live for its organization and the bank, and never for another organization", async ({
  page,
  browser,
  baseURL,
}) => {
  const name = `Live check ${Date.now()}`;
  const northwind = await watching(browser, baseURL!, NORTHWIND_VIEWER, "/jobs");
  const bank = await watching(browser, baseURL!, BANK_ADMIN, "/jobs");
  const harbor = await watching(browser, baseURL!, HARBOR_VIEWER, "/jobs");
  await signIn(page, NORTHWIND_ADMIN);

  await enqueue(page, name, '{"delay_ms": 1500}');

  for (const viewer of [northwind.page, bank.page]) {
    const row = viewer.getByTestId("job-row").filter({ hasText: name });
    await expect(row).toBeVisible({ timeout: 2000 });
    await expect(row.getByText("completed", { exact: true })).toBeVisible({ timeout: 4000 });
  }
  await expect(harbor.page.getByTestId("job-row").filter({ hasText: name })).toHaveCount(0);
  for (const viewer of [northwind, bank, harbor]) expect(viewer.errors).toEqual([]);
});

test("a list's new rows are pushed: the tab does not ask for its page again", async ({ page, browser, baseURL }) => {
  const name = `Pushed ${Date.now()}`;
  const northwind = await watching(browser, baseURL!, NORTHWIND_VIEWER, "/jobs");
  // the reading the tab makes when its connection opens
  await northwind.page.waitForLoadState("networkidle");
  const listRequests: string[] = [];
  northwind.page.on("request", (request) => {
    if (request.url().includes("/api/list_jobs")) listRequests.push(request.url());
  });
  await signIn(page, NORTHWIND_ADMIN);

  await enqueue(page, name, '{"delay_ms": 200}');

  const row = northwind.page.getByTestId("job-row").filter({ hasText: name });
  await expect(row.getByText("completed", { exact: true })).toBeVisible({ timeout: 4000 });
  expect(listRequests).toEqual([]);
  expect(northwind.errors).toEqual([]);
});

test("a job's page follows its status without reloading", async ({ page }) => {
  await signIn(page, NORTHWIND_ADMIN);
  await enqueue(page, `Followed ${Date.now()}`, '{"delay_ms": 1000}');
  await waitForHydration(page);
  await expect(page.getByTestId("job-status")).toHaveText("completed", { timeout: 6000 });
  await expect(page.getByTestId("job-result")).toContainText('"waited_ms": 1000');
});

test("a failing job raises an alert with a link, which can be dismissed", async ({ page, browser, baseURL }) => {
  const viewer = await watching(browser, baseURL!, NORTHWIND_VIEWER, "/");
  await signIn(page, NORTHWIND_ADMIN);

  await enqueue(page, `Alert check ${Date.now()}`, '{"fail_with": "checking the alerts"}');

  // other jobs of the organization may fail meanwhile: find this one's alert
  const jobPath = new URL(page.url()).pathname;
  const alert = viewer.page
    .getByTestId("failure-alert")
    .filter({ has: viewer.page.locator(`a[href="${jobPath}"]`) });
  await expect(alert).toContainText("A job failed.", { timeout: 4000 });
  await alert.getByRole("button", { name: "Dismiss this alert" }).click();
  await expect(alert).toHaveCount(0);
  expect(viewer.errors).toEqual([]);
});

test("an older page is not moved by new jobs: a marker offers the newest", async ({ page, browser, baseURL }) => {
  const viewer = await watching(browser, baseURL!, BANK_ADMIN, "/jobs");
  await viewer.page.getByTestId("next-page").click();
  await expect(viewer.page).toHaveURL(/cursor=/);
  const firstRowBefore = await viewer.page.getByTestId("job-row").first().textContent();
  await signIn(page, NORTHWIND_ADMIN);

  await enqueue(page, `Unseen ${Date.now()}`, "{}");

  await expect(viewer.page.getByTestId("unseen-changes")).toContainText("new", { timeout: 4000 });
  expect(await viewer.page.getByTestId("job-row").first().textContent()).toEqual(firstRowBefore);
  await viewer.page.getByTestId("unseen-changes").click();
  await expect(viewer.page).not.toHaveURL(/cursor=/);
});

/** Pauses (or resumes) the `notifications` queue as a bank admin. */
async function setNotificationsPaused(page: Page, paused: boolean) {
  await page.goto("/queues");
  await waitForHydration(page);
  const row = page.getByTestId("queue-row").filter({ has: page.getByText("notifications", { exact: true }) });
  const state = row.getByTestId("queue-state");
  if ((await state.textContent())?.trim() !== (paused ? "paused" : "active")) {
    await row.getByTestId("toggle-queue").click();
    await expect(state).toHaveText(paused ? "paused" : "active");
  }
}

/** Creates a two-recipient batch as `page`'s user; its path. */
async function createBatch(page: Page, name: string) {
  await page.goto("/batches/new");
  await waitForHydration(page);
  await page.getByTestId("batch-name").fill(name);
  await page.getByTestId("batch-subject").fill("Your statement");
  await page.getByTestId("batch-recipients").fill("email,name\nada@bank.example,Ada\nbo@bank.example,Bo\n");
  await page.getByRole("button", { name: "Create batch" }).click();
  await expect(page).toHaveURL(/\/batches\/[0-9a-f-]{36}$/);
  return new URL(page.url()).pathname;
}

test("a batch's page follows its progress live: held in a paused queue, then sent", async ({ page, browser, baseURL }) => {
  const bank = await watching(browser, baseURL!, BANK_ADMIN, "/queues");
  await setNotificationsPaused(bank.page, true);
  try {
    await signIn(page, NORTHWIND_ADMIN);
    const batchPath = await createBatch(page, `Live batch ${Date.now()}`);
    const viewer = await watching(browser, baseURL!, NORTHWIND_VIEWER, batchPath);
    await expect(viewer.page.getByTestId("batch-percent")).toHaveText("0%");

    await setNotificationsPaused(bank.page, false);

    // the emails go out through the outbox (Northwind has no mail server)
    await expect(viewer.page.getByTestId("batch-percent")).toHaveText("100%", { timeout: 6000 });
    await expect(viewer.page.getByTestId("batch-filter-completed")).toContainText("2");
    expect(viewer.errors).toEqual([]);
  } finally {
    await setNotificationsPaused(bank.page, false);
  }
});

test("a batch's page follows its progress while someone else cancels it", async ({ page, browser, baseURL }) => {
  const bank = await watching(browser, baseURL!, BANK_ADMIN, "/queues");
  await setNotificationsPaused(bank.page, true);
  try {
    await signIn(page, NORTHWIND_ADMIN);
    const name = `Cancelled batch ${Date.now()}`;
    const batchPath = await createBatch(page, name);
    const viewer = await watching(browser, baseURL!, NORTHWIND_VIEWER, batchPath);
    await expect(viewer.page.getByTestId("batch-percent")).toHaveText("0%");

    await page.goto("/batches");
    await waitForHydration(page);
    await page.getByTestId("batch-row").filter({ hasText: name }).getByTestId("cancel-batch").click();

    await expect(viewer.page.getByTestId("batch-percent")).toHaveText("100%", { timeout: 4000 });
    await expect(viewer.page.getByTestId("batch-filter-cancelled")).toContainText("2");
    expect(viewer.errors).toEqual([]);
  } finally {
    await setNotificationsPaused(bank.page, false);
  }
});

test("a tab whose connection drops shows it, reconnects, and then shows what changed meanwhile", async ({
  page,
  browser,
  baseURL,
}) => {
  const context = await browser.newContext({ baseURL });
  const viewer = await context.newPage();
  const errors = trackErrors(viewer);
  // The test stands between the tab and the server: it can cut the
  // connection and refuse new ones, as a restarting server would.
  let refusing = false;
  const open: { close: () => Promise<void> }[] = [];
  await viewer.routeWebSocket(/\/ws/, (ws) => {
    if (refusing) {
      void ws.close({ code: 1012, reason: "restarting" });
      return;
    }
    const server = ws.connectToServer();
    open.push({
      close: async () => {
        await ws.close({ code: 1012, reason: "restarting" });
        await server.close();
      },
    });
  });
  await signIn(viewer, NORTHWIND_VIEWER);
  await viewer.goto("/jobs");
  await waitForHydration(viewer);
  await expect(viewer.getByTestId("live-status")).toHaveAttribute("data-state", "live");

  refusing = true;
  for (const connection of open.splice(0)) await connection.close();
  await expect(viewer.getByTestId("live-status")).toHaveAttribute("data-state", /offline|connecting/);
  const name = `While offline ${Date.now()}`;
  await signIn(page, NORTHWIND_ADMIN);
  await enqueue(page, name, "{}");
  await expect(viewer.getByTestId("job-row").filter({ hasText: name })).toHaveCount(0);
  refusing = false;

  await expect(viewer.getByTestId("live-status")).toHaveAttribute("data-state", "live", { timeout: 10_000 });
  await expect(viewer.getByTestId("job-row").filter({ hasText: name })).toBeVisible({ timeout: 3000 });
  // the dropped connection shows in the console only as the browser's own notice
  expect(errors.filter((e) => !e.includes("WebSocket"))).toEqual([]);
});

test("a queue created and paused by one bank admin changes on another's Queues tab", async ({ page, browser, baseURL }) => {
  const viewer = await watching(browser, baseURL!, BANK_ADMIN, "/queues");
  await signIn(page, BANK_ADMIN);
  await page.goto("/queues");
  await waitForHydration(page);
  const name = `live_${Date.now()}`;

  await page.getByTestId("new-queue-name").fill(name);
  await page.getByTestId("create-queue").click();
  const row = viewer.page.getByTestId("queue-row").filter({ hasText: name });
  await expect(row.getByTestId("queue-state")).toHaveText("active", { timeout: 3000 });
  await page.getByTestId("queue-row").filter({ hasText: name }).getByTestId("toggle-queue").click();

  await expect(row.getByTestId("queue-state")).toHaveText("paused", { timeout: 3000 });
  expect(viewer.errors).toEqual([]);
});
