import { expect, test } from "@playwright/test";
import * as crypto from "node:crypto";
import * as http from "node:http";
import { AddressInfo } from "node:net";
import { signIn, trackErrors, waitForHydration } from "./helpers";

const NORTHWIND_ADMIN = "admin@northwind.example";
const NORTHWIND_VIEWER = "viewer@northwind.example";

type Delivery = { id: string; timestamp: string; signatures: string[]; body: string };

/** A receiving endpoint on loopback that keeps what it is sent and
 * answers `status`. */
async function receiver(status = 200) {
  const received: Delivery[] = [];
  const server = http.createServer((request, response) => {
    let body = "";
    request.on("data", (chunk) => (body += chunk));
    request.on("end", () => {
      received.push({
        id: String(request.headers["webhook-id"] ?? ""),
        timestamp: String(request.headers["webhook-timestamp"] ?? ""),
        signatures: String(request.headers["webhook-signature"] ?? "").split(" "),
        body,
      });
      response.writeHead(status, { "content-type": "application/json" });
      response.end("{}");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return { port, received, close: () => new Promise((resolve) => server.close(resolve)) };
}

/** Standard Webhooks verification, written here with Node's crypto. */
function signedBy(secret: string, delivery: Delivery, signature: string): boolean {
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  const expected = crypto
    .createHmac("sha256", key)
    .update(`${delivery.id}.${delivery.timestamp}.${delivery.body}`)
    .digest("base64");
  return signature === `v1,${expected}`;
}

test("a webhook is made, tested and rotated; every delivery verifies with its secret", async ({ page }) => {
  const errors = trackErrors(page);
  const endpoint = await receiver();
  const name = `E2E hook ${Date.now()}`;
  await signIn(page, NORTHWIND_ADMIN);
  await page.goto("/webhooks");
  await page.getByTestId("new-webhook").click();
  await expect(page).toHaveURL(/\/webhooks\/new$/);
  await waitForHydration(page);
  await page.getByTestId("webhook-name").fill(name);
  await page.getByTestId("webhook-url").fill(`http://127.0.0.1:${endpoint.port}/hooks`);
  await page.getByTestId("webhook-event").selectOption("case_created");
  await page.getByTestId("webhook-headers").fill("X-Tenant: northwind");
  await page.getByTestId("save-webhook").click();
  const secret = (await page.getByTestId("webhook-secret").textContent())!.trim();
  expect(secret).toMatch(/^whsec_/);
  await page.getByTestId("open-webhook").click();
  await expect(page).toHaveURL(/\/webhooks\/[0-9a-f-]{36}$/);
  await waitForHydration(page);

  // a test event: its delivery shows up without reloading
  await page.getByTestId("send-test").click();
  await expect(page.getByTestId("test-sent")).toContainText("Test event sent");
  await expect(page.getByTestId("delivery-row").first()).toContainText("200", { timeout: 10_000 });
  await expect.poll(() => endpoint.received.length).toBe(1);
  const first = endpoint.received[0];
  expect(JSON.parse(first.body).type).toBe("webhook.test");
  expect(first.signatures).toHaveLength(1);
  expect(signedBy(secret, first, first.signatures[0])).toBe(true);

  // a rotation: both secrets sign while the old one's grace lasts
  await page.getByTestId("rotate-secret").click();
  const rotated = (await page.getByTestId("rotated-secret").textContent())!.trim();
  expect(rotated).not.toBe(secret);
  await page.getByTestId("send-test").click();
  await expect.poll(() => endpoint.received.length, { timeout: 10_000 }).toBe(2);
  const second = endpoint.received[1];
  expect(second.id).not.toBe(first.id);
  expect(second.signatures).toHaveLength(2);
  expect(signedBy(rotated, second, second.signatures[0])).toBe(true);
  expect(signedBy(secret, second, second.signatures[1])).toBe(true);
  await expect(page.getByTestId("delivery-row")).toHaveCount(2, { timeout: 10_000 });

  // sent again: the same webhook-id, so the receiver can tell
  await page.getByTestId("delivery-row").first().getByTestId("resend-delivery").click();
  await expect(page.getByTestId("resent")).toContainText("Sent again");
  await expect.poll(() => endpoint.received.length, { timeout: 10_000 }).toBe(3);
  expect(endpoint.received[2].id).toBe(second.id);
  await endpoint.close();
  expect(errors).toEqual([]);
});

test("a viewer sees a webhook without its secret or header values and cannot act", async ({ page, browser, baseURL }) => {
  // an admin makes one with a header
  const admin = await browser.newContext({ baseURL });
  const adminPage = await admin.newPage();
  await signIn(adminPage, NORTHWIND_ADMIN);
  await adminPage.goto("/webhooks/new");
  await waitForHydration(adminPage);
  await adminPage.getByTestId("webhook-name").fill(`Viewer check ${Date.now()}`);
  await adminPage.getByTestId("webhook-url").fill("https://hooks.example.com/veriphy");
  await adminPage.getByTestId("webhook-headers").fill("Authorization: Bearer e2e-hidden-token");
  await adminPage.getByTestId("save-webhook").click();
  const secret = (await adminPage.getByTestId("webhook-secret").textContent())!.trim();
  const path = await adminPage.getByTestId("open-webhook").getAttribute("href");
  await admin.close();

  await signIn(page, NORTHWIND_VIEWER);
  await page.goto(path!);
  await waitForHydration(page);
  await expect(page.getByTestId("webhook-facts")).toContainText("Authorization");
  await expect(page.locator("body")).not.toContainText("e2e-hidden-token");
  await expect(page.locator("body")).not.toContainText(secret);
  await expect(page.getByTestId("reveal-secret")).toHaveCount(0);
  await expect(page.getByTestId("rotate-secret")).toHaveCount(0);
  await expect(page.getByTestId("send-test")).toHaveCount(0);
});

test("the event catalogue shows every event with an example", async ({ page }) => {
  await signIn(page, NORTHWIND_VIEWER);
  await page.goto("/webhooks");
  await page.getByTestId("event-catalogue-link").click();
  await expect(page).toHaveURL(/\/webhooks\/events$/);
  await expect(page.getByTestId("catalogue-event")).toHaveCount(13);
  await expect(page.getByTestId("catalogue-event").filter({ hasText: "job.failed" })).toContainText('"type": "job.failed"');
});

test("an API key made in the console publishes events until it is revoked", async ({ page, baseURL }) => {
  await signIn(page, NORTHWIND_ADMIN);
  await page.goto("/webhooks");
  await page.getByTestId("api-keys-link").click();
  await expect(page).toHaveURL(/\/webhooks\/api-keys$/);
  await waitForHydration(page);
  const name = `E2E key ${Date.now()}`;
  await page.getByTestId("api-key-name").fill(name);
  await page.getByTestId("create-api-key").click();
  const key = (await page.getByTestId("new-api-key").textContent())!.trim();
  expect(key).toMatch(/^vjk_/);
  const publish = (idempotency: string) =>
    fetch(`${baseURL}/api/v1/events`, {
      method: "POST",
      headers: { authorization: `Bearer ${key}`, "idempotency-key": idempotency, "content-type": "application/json" },
      body: JSON.stringify({ type: "case_created", data: { case_id: "CASE-E2E" } }),
    });
  expect((await publish(`e2e-${Date.now()}`)).status).toBe(202);

  await page.reload();
  await waitForHydration(page);
  const row = page.getByTestId("api-key-row").filter({ hasText: name });
  await expect(row).toContainText(key.slice(0, 12));
  await expect(page.locator("body")).not.toContainText(key);
  await row.getByTestId("revoke-api-key").click();
  await expect(row).toContainText("revoked");
  const refused = await publish(`e2e-late-${Date.now()}`);
  expect(refused.status).toBe(401);
  expect((await refused.json()).message).toBe("Unknown or revoked API key.");
});

test("failed deliveries are replayed after a count, and the webhook's monitoring shows every attempt", async ({ page }) => {
  const errors = trackErrors(page);
  const endpoint = await receiver(500);
  const name = `Replay hook ${Date.now()}`;
  await signIn(page, NORTHWIND_ADMIN);
  await page.goto("/webhooks/new");
  await waitForHydration(page);
  await page.getByTestId("webhook-name").fill(name);
  await page.getByTestId("webhook-url").fill(`http://127.0.0.1:${endpoint.port}/hooks`);
  await page.getByTestId("webhook-retries").fill("0");
  await page.getByTestId("save-webhook").click();
  await page.getByTestId("open-webhook").click();
  await expect(page).toHaveURL(/\/webhooks\/[0-9a-f-]{36}$/);
  await waitForHydration(page);

  await page.getByTestId("send-test").click();
  await expect(page.getByTestId("delivery-row").first()).toContainText("500", { timeout: 10_000 });
  await expect(page.getByTestId("replay-count")).toHaveText("— 1 failed delivery will be sent again", {
    timeout: 10_000,
  });
  await page.getByTestId("replay").click();
  await expect(page.getByTestId("replayed")).toHaveText("Replaying 1 failed delivery: it appears above as it is made.");
  await expect.poll(() => endpoint.received.length, { timeout: 10_000 }).toBe(2);
  expect(endpoint.received[1].id).toBe(endpoint.received[0].id);

  await page.getByTestId("webhook-monitoring").click();
  await expect(page).toHaveURL(/\/api-logs\/monitoring\?webhook=/);
  await expect(page.getByTestId("monitoring-narrowed")).toContainText(name);
  await expect(page.getByTestId("monitoring-calls")).toHaveText("2");
  await expect(page.getByTestId("monitoring-success-rate")).toHaveText("0.0 %");
  await endpoint.close();
  expect(errors).toEqual([]);
});
