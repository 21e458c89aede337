import { expect, test } from "@playwright/test";
import * as http from "node:http";
import { AddressInfo } from "node:net";
import { signIn, trackErrors, waitForHydration } from "./helpers";

const HARBOR_ADMIN = "admin@harbor.example";

/** A Twilio-style SMS API on loopback that records what it receives. */
async function smsStandIn() {
  const received: { url: string; auth: string; body: string }[] = [];
  const server = http.createServer((request, response) => {
    let body = "";
    request.on("data", (chunk) => (body += chunk));
    request.on("end", () => {
      received.push({ url: request.url ?? "", auth: request.headers.authorization ?? "", body });
      response.writeHead(request.method === "GET" ? 200 : 201, { "content-type": "application/json" });
      response.end(JSON.stringify({ sid: "SM-e2e-1", status: "queued" }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return { port, received, close: () => new Promise((resolve) => server.close(resolve)) };
}

test("an SMS integration is configured, tested, and its job's call appears in the API logs", async ({ page }) => {
  const errors = trackErrors(page);
  const provider = await smsStandIn();
  const name = `E2E SMS ${Date.now()}`;
  await signIn(page, HARBOR_ADMIN);

  await page.goto("/integrations/new");
  await waitForHydration(page);
  await page.getByTestId("integration-name").fill(name);
  await page.getByTestId("integration-channel").selectOption("sms");
  await page.getByTestId("integration-kind").selectOption("sms_http");
  await page.getByTestId("integration-base-url").fill(`http://127.0.0.1:${provider.port}/2010-04-01`);
  await page.getByLabel("User name or account id").fill("AC-e2e");
  await page.getByTestId("integration-secret").fill("e2e-token-4242");
  await page.getByTestId("integration-sender").fill("+15550001111");
  await page.getByTestId("integration-default").check();
  await page.getByTestId("save-integration").click();
  await expect(page).toHaveURL(/\/integrations\/[0-9a-f-]{36}$/);
  const integrationPath = new URL(page.url()).pathname;
  await expect(page.getByText("••••4242", { exact: true })).toBeVisible();

  await page.getByTestId("test-integration").click();
  await expect(page.getByTestId("test-outcome")).toHaveText("Connection works: The provider answered HTTP 200.");
  await expect(page.getByTestId("last-test")).toContainText("success");

  await page.goto("/jobs/new");
  await waitForHydration(page);
  await page.getByTestId("job-type").selectOption("sms");
  await page.getByTestId("job-name").fill(`${name} job`);
  await page.getByTestId("job-payload").fill('{"to": "+447700900123", "body": "Your documents are ready"}');
  await page.getByRole("button", { name: "Enqueue job" }).click();
  await expect(page).toHaveURL(/\/jobs\/[0-9a-f-]{36}$/);
  await expect(page.getByText("completed", { exact: true }).first()).toBeVisible({ timeout: 10_000 });

  await page.goto("/api-logs");
  await waitForHydration(page);
  const row = page.getByTestId("api-log-row").filter({ hasText: "sms_api" }).first();
  await expect(row).toContainText("201");
  await expect(row).toContainText(/\d+ ms/);
  await row.getByRole("link", { name: "sms_api" }).click();
  await expect(page).toHaveURL(/\/api-logs\/[0-9a-f-]{36}$/);
  await expect(page.getByTestId("api-call-request")).toContainText("+447700900123");
  await expect(page.getByTestId("api-call-request")).not.toContainText("e2e-token-4242");
  await expect(page.getByTestId("api-call-facts")).toContainText(name);
  const sent = provider.received.find((r) => r.url.endsWith("/Messages.json"));
  expect(sent?.body).toContain("To=%2B447700900123");
  expect(sent?.auth).toBe(`Basic ${Buffer.from("AC-e2e:e2e-token-4242").toString("base64")}`);
  // its health counts the test and the message
  await page.goto(integrationPath);
  await waitForHydration(page);
  await expect(page.getByTestId("integration-health")).toContainText("2 calls in 24 h, 100 % ok, p95");
  // and its monitoring charts them
  await page.getByTestId("integration-health").getByRole("link", { name: "Monitoring" }).click();
  await expect(page).toHaveURL(/\/api-logs\/monitoring\?integration=/);
  await expect(page.getByTestId("monitoring-narrowed")).toContainText(name);
  await expect(page.getByTestId("monitoring-calls")).toHaveText("2");
  await expect(page.getByTestId("monitoring-success-rate")).toHaveText("100.0 %");
  await expect(page.getByTestId("monitoring-p95")).toHaveText(/\d+ ms/);
  await expect(page.getByRole("img", { name: "Response time per hour, last 24 hours" })).toBeVisible();
  await expect(page.getByRole("img", { name: "Response time per hour, last 24 hours" }).locator("circle")).not.toHaveCount(0);
  await provider.close();
  expect(errors).toEqual([]);
});

test("a destination inside the bank's network is refused with the reason", async ({ page }) => {
  await signIn(page, HARBOR_ADMIN);
  await page.goto("/integrations/new");
  await waitForHydration(page);
  await page.getByTestId("integration-name").fill("Metadata grab");
  await page.getByTestId("integration-channel").selectOption("data_sync");
  await page.getByTestId("integration-kind").selectOption("http");
  await page.getByTestId("integration-base-url").fill("https://169.254.169.254/latest");
  await page.getByTestId("save-integration").click();

  await expect(page.getByTestId("form-error")).toHaveText(
    "169.254.169.254 is an internal address; only public hosts can be called.",
  );
  await expect(page).toHaveURL(/\/integrations\/new$/);
});
