/**
 * An operator reads an encrypted order in the Temporal Web UI: `npm start` (devstack/local-stack.ts) with
 * PAYLOAD_ENCRYPTION_KEYS set runs the dev server's UI with the API's codec endpoint; headless
 * Chromium opens the order's workflow page. Before the operator signs in to the storefront the
 * codec refuses the UI and the page shows no order line; signed in as an admin, with the UI's Codec
 * Server setting "include cross-origin credentials" on, the page shows the order's input decoded
 * (customer id, SKU, product name). The server's own copy of the history holds them encrypted.
 * Screenshots go to test/artifacts/.
 */
import { execFile } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { randomBytes, randomUUID } from 'node:crypto';
import path from 'node:path';
import { promisify } from 'node:util';
import type { BrowserContext, Page } from 'playwright-core';
import { temporal as proto } from '@temporalio/proto';
import { ENCRYPTED_ENCODING } from '../temporal/payload-codec';
import { connectClient, temporalSettingsFromEnv } from '../temporal/connection';
import { waitUntil } from '../devstack/waits';
import { chromiumProfile, ensureChromium, type ChromiumProfile } from './helpers/chromium';
import { launchStack, stackSandbox, type LaunchedStack } from './helpers/stack-process';
import { linkToken, waitForMail } from './helpers/mailpit';

const ROOT = path.resolve(__dirname, '..');
const ARTIFACTS = path.resolve(__dirname, 'artifacts');

jest.setTimeout(240_000);

let sandbox: ReturnType<typeof stackSandbox>;
let env: NodeJS.ProcessEnv & Record<string, string>;
let stack: LaunchedStack | undefined;
let profile: ChromiumProfile;
let browser: BrowserContext | undefined;
let apiUrl: string;
let uiUrl: string;

beforeAll(async () => {
  ensureChromium((line) => console.log(line));
  profile = chromiumProfile();
  mkdirSync(ARTIFACTS, { recursive: true });
  sandbox = stackSandbox('ui_codec');
  env = await sandbox.env({ PAYLOAD_ENCRYPTION_KEYS: `ui-test:${randomBytes(32).toString('base64')}` });
  apiUrl = `http://127.0.0.1:${env.PORT}`;
  uiUrl = `http://127.0.0.1:${env.TEMPORAL_UI_PORT}`;
  stack = launchStack(env);
  await waitUntil('the stack to be ready', async () => stack!.output().includes('Press Ctrl-C to stop.'), {
    timeoutMs: 180_000,
  }).catch((error: Error) => {
    throw new Error(`${error.message}\n--- stack output ---\n${stack!.output()}`);
  });
}, 20 * 60_000);

afterAll(async () => {
  await browser?.close();
  profile?.dispose();
  if (stack && stack.child.exitCode === null) {
    stack.child.kill('SIGTERM');
    await stack.exited;
  }
  await sandbox?.dispose();
});

async function call<T>(
  method: string,
  url: string,
  body: unknown,
  token?: string,
): Promise<{ status: number; body: T }> {
  const response = await fetch(`${apiUrl}${url}`, {
    method,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as T };
}

async function signUp(label: string): Promise<{ email: string; password: string; token: string; userId: string }> {
  const email = `${label}.${randomUUID().slice(0, 8)}@example.com`;
  const password = `pw-${randomUUID()}`;
  const signedUp = await call<{ token: string; user: { id: string } }>('POST', '/v1/auth/signup', { email, password });
  expect(signedUp.status).toBe(201);
  // npm start sends account mail to its Mailpit: the address is confirmed with the link mailed at sign-up.
  const mail = await waitForMail(email, 'Confirm your email address', 1, `http://127.0.0.1:${env.MAILPIT_PORT}`);
  expect((await call('POST', '/v1/auth/verify-email', { token: linkToken(mail, 'verify-email') })).status).toBe(200);
  return { email, password, token: signedUp.body.token, userId: signedUp.body.user.id };
}

/** The order's workflow page, once the UI has asked the codec endpoint to decode what it shows; answers the codec's status. */
async function openOrderPage(page: Page, workflowId: string, runId: string): Promise<number> {
  const decoded = page.waitForResponse(
    (response) => response.url() === `${apiUrl}/codec/decode` && response.request().method() === 'POST',
  );
  await page.goto(`${uiUrl}/namespaces/default/workflows/${workflowId}/${runId}/history`);
  return (await decoded).status();
}

test("the Web UI shows an order's input decoded to a signed-in operator, and only to them; the server keeps it encrypted", async () => {
  // An operator: an account made admin by the operator command.
  const operator = await signUp('operator');
  await promisify(execFile)(
    process.execPath,
    ['--import', 'tsx', path.join(ROOT, 'scripts', 'ops.ts'), 'make-admin', operator.email],
    { cwd: ROOT, env },
  );
  const adminToken = (
    await call<{ token: string }>('POST', '/v1/auth/signin', { email: operator.email, password: operator.password })
  ).body.token;
  const sku = `UI-${randomUUID().slice(0, 8)}`;
  const productName = `Codec lamp ${randomUUID().slice(0, 6)}`;
  const product = await call<{ id: string }>(
    'POST',
    '/v1/products',
    { sku, name: productName, priceCents: 1_900, available: 5 },
    adminToken,
  );
  expect(product.status).toBe(201);

  // A customer's order.
  const customer = await signUp('customer');
  const placed = await call<{ id: string; workflowId: string }>(
    'POST',
    '/v1/orders',
    { items: [{ productId: product.body.id, quantity: 2 }] },
    customer.token,
  );
  expect(placed.status).toBe(201);
  const { workflowId } = placed.body;

  // The server's copy, read without the codec: the order's lines and customer are ciphertext.
  const raw = await connectClient(temporalSettingsFromEnv({ TEMPORAL_ADDRESS: `127.0.0.1:${env.TEMPORAL_PORT}` }));
  let runId: string;
  try {
    const described = await raw.workflowService.describeWorkflowExecution({
      namespace: 'default',
      execution: { workflowId },
    });
    runId = described.workflowExecutionInfo!.execution!.runId!;
    const { history } = await raw.workflowService.getWorkflowExecutionHistory({
      namespace: 'default',
      execution: { workflowId, runId },
    });
    const started = history!.events![0]!.workflowExecutionStartedEventAttributes!;
    const input = started.input!.payloads![0]!;
    expect(Buffer.from(input.metadata!.encoding!).toString()).toBe(ENCRYPTED_ENCODING);
    expect(Buffer.from(input.data!).includes(customer.userId)).toBe(false);
    const stored = Buffer.concat(
      history!.events!.map((event) =>
        Buffer.from(proto.api.history.v1.HistoryEvent.encode(event as proto.api.history.v1.HistoryEvent).finish()),
      ),
    );
    expect(stored.includes(sku)).toBe(false);
    expect(stored.includes(productName)).toBe(false);
  } finally {
    await raw.close();
  }

  browser = await profile.launch();
  // The UI's "Codec Server" settings as an operator saves them in the browser: this endpoint, cross-origin credentials included.
  const settings = {
    endpoint: JSON.stringify(`${apiUrl}/codec`),
    includeCredentials: 'true',
    overrideRemoteCodecConfiguration: 'true',
  };
  await browser.addInitScript(
    `if (location.origin === ${JSON.stringify(uiUrl)}) for (const [key, value] of Object.entries(${JSON.stringify(settings)})) localStorage.setItem(key, value);`,
  );
  const page = browser.pages()[0] ?? (await browser.newPage());

  // Not signed in to the storefront: the codec refuses the UI, and no order line is on the page.
  expect(await openOrderPage(page, workflowId, runId)).toBe(401);
  await page.getByText('Codec Server could not connect').filter({ visible: true }).first().waitFor({ timeout: 30_000 });
  await page.screenshot({ path: path.join(ARTIFACTS, 'web-ui-codec-refused.png'), fullPage: true });
  expect(await page.locator('body').innerText()).not.toContain(sku);

  // Signed in as the operator (the session cookie of the API's host, which the UI's requests carry): decoded.
  expect(
    (
      await browser.request.post(`${apiUrl}/v1/auth/signin`, {
        data: { email: operator.email, password: operator.password },
      })
    ).status(),
  ).toBe(200);
  expect(await openOrderPage(page, workflowId, runId)).toBe(200);
  await page.getByText(sku).first().waitFor({ timeout: 30_000 });
  await page.screenshot({ path: path.join(ARTIFACTS, 'web-ui-codec-decoded.png'), fullPage: true });
  const shown = await page.locator('body').innerText();
  expect(shown).toContain(productName);
  expect(shown).toMatch(new RegExp(`"customerId":\\s*"${customer.userId}"`));
});
