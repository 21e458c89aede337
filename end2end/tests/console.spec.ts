import { expect, test } from "@playwright/test";
import { signIn, trackErrors, waitForHydration } from "./helpers";

const NORTHWIND_ADMIN = "admin@northwind.example";
const HARBOR_ADMIN = "admin@harbor.example";

test("job filters narrow the list and survive paging links", async ({ page }) => {
  const errors = trackErrors(page);
  await signIn(page, NORTHWIND_ADMIN);
  await page.goto("/jobs");
  await waitForHydration(page);
  await page.getByTestId("filter-type").selectOption("email");
  await page.getByTestId("filter-q").fill("loan offer");
  await page.getByTestId("apply-filters").click();
  await expect(page).toHaveURL(/type=email/);
  await expect(page).toHaveURL(/q=loan/);
  const rows = page.getByTestId("job-row");
  await expect(rows.first()).toBeVisible();
  for (const text of await rows.allTextContents()) {
    expect(text.toLowerCase()).toContain("loan offer");
    expect(text).toContain("email");
  }
  // a bad filter in the URL is explained, not a crash
  await page.goto("/jobs?type=fax");
  await expect(page.getByRole("alert").filter({ hasText: "Unknown job type" })).toBeVisible();
  expect(errors.filter((e) => !e.includes("422"))).toEqual([]);
});

test("ticked jobs are cancelled in bulk after a confirmation", async ({ page }) => {
  await signIn(page, HARBOR_ADMIN);
  await page.goto("/jobs?status=pending&queue=notifications");
  await waitForHydration(page);
  const rows = page.getByTestId("job-row");
  const before = await rows.count();
  expect(before).toBeGreaterThan(1);
  await rows.nth(0).getByTestId("select-row").check();
  await rows.nth(1).getByTestId("select-row").check();
  await page.getByTestId("bulk-action").selectOption("cancel");
  await page.getByTestId("bulk-selected").click();
  await expect(page.getByTestId("bulk-prompt")).toHaveText("Cancel 2 of 2 jobs?");
  await page.getByTestId("bulk-confirm").click();
  await expect(page.getByRole("status").filter({ hasText: "2 jobs cancelled." })).toBeVisible();
  await expect(rows).toHaveCount(before - 2);
});

test("a batch is created from pasted recipients", async ({ page }) => {
  await signIn(page, NORTHWIND_ADMIN);
  await page.goto("/batches");
  await waitForHydration(page);
  await page.getByTestId("new-batch").click();
  await expect(page.getByRole("heading", { name: "New batch" })).toBeVisible();
  await page.getByTestId("batch-name").fill("Statement run from the console");
  await page.getByTestId("batch-subject").fill("Your December statement");
  await page.getByTestId("batch-recipients").fill("email,name\nada@bank.example,Ada\nnot-an-address,Bo\n");
  await expect(page.getByTestId("batch-summary")).toContainText('Row 3: "not-an-address"');
  await expect(page.getByRole("button", { name: "Create batch" })).toBeDisabled();
  await page.getByTestId("batch-recipients").fill("email,name\nada@bank.example,Ada\nbo@bank.example,\"Bo, Jr\"\n");
  await expect(page.getByTestId("batch-summary")).toHaveText("2 recipients");
  await page.getByRole("button", { name: "Create batch" }).click();
  await expect(page).toHaveURL(/\/batches\/[0-9a-f-]{36}$/);
  await expect(page.getByRole("heading", { name: "Statement run from the console" })).toBeVisible();
  await expect(page.getByTestId("batch-total")).toHaveText("2");
  await expect(page.getByTestId("job-row")).toHaveCount(2);
  await expect(page.getByTestId("job-row").first()).toContainText("Statement run from the console");
});

test("a batch is created from an uploaded CSV file", async ({ page }) => {
  await signIn(page, NORTHWIND_ADMIN);
  await page.goto("/batches/new");
  await waitForHydration(page);
  await page.getByTestId("batch-name").fill("Card renewal notices from a file");
  await page.getByTestId("batch-subject").fill("Your new card is on its way");
  const rows = ["email,name,card"];
  for (let i = 1; i <= 4; i++) rows.push(`holder${i}@bank.example,Holder ${i},*${1000 + i}`);
  await page.getByTestId("batch-csv-file").setInputFiles({
    name: "renewals.csv",
    mimeType: "text/csv",
    buffer: Buffer.from(rows.join("\n") + "\n"),
  });
  await expect(page.getByTestId("batch-recipients")).toHaveValue(/holder4@bank\.example,Holder 4,\*1004/);
  await expect(page.getByTestId("batch-summary")).toHaveText("4 recipients");
  await page.getByRole("button", { name: "Create batch" }).click();
  await expect(page).toHaveURL(/\/batches\/[0-9a-f-]{36}$/);
  await expect(page.getByTestId("job-row")).toHaveCount(4);

  // a file with a bad row is refused with its row number, like pasted text
  await page.goto("/batches/new");
  await waitForHydration(page);
  await page.getByTestId("batch-csv-file").setInputFiles({
    name: "broken.csv",
    mimeType: "text/csv",
    buffer: Buffer.from("email,name\nada@bank.example,Ada\nnobody,Bo\n"),
  });
  await expect(page.getByTestId("batch-summary")).toContainText('Row 3: "nobody"');
  await expect(page.getByRole("button", { name: "Create batch" })).toBeDisabled();
});

test("an uploaded document is analysed by a job", async ({ page }) => {
  await signIn(page, NORTHWIND_ADMIN);
  await page.goto("/jobs");
  await waitForHydration(page);
  await page.getByTestId("upload-document").click();
  await expect(page.getByRole("heading", { name: "Process a document" })).toBeVisible();
  await page.getByTestId("upload-file").setInputFiles({
    name: "notes.txt",
    mimeType: "text/plain",
    buffer: Buffer.from("Customer called about the loan.\nPromised a callback.\n"),
  });
  await page.getByRole("button", { name: "Upload and analyse" }).click();
  await expect(page).toHaveURL(/\/jobs\/[0-9a-f-]{36}$/);
  await expect(page.getByRole("heading", { name: "Analyse notes.txt" })).toBeVisible();
  // the page follows the job live
  await waitForHydration(page);
  await expect(page.getByTestId("job-status")).toHaveText("completed", { timeout: 20_000 });
  await expect(page.getByTestId("job-result")).toContainText('"line_count": 2');
  await expect(page.getByTestId("job-result")).toContainText('"detected_content_type": "text/plain"');
});
