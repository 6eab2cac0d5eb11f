/**
 * No secret in any log line: the API and a worker run as their own processes at debug level
 * while a customer signs up and in, streams notifications (by cookie and by `?access_token=`),
 * orders and pays; then their whole output is searched for the password, every token, cookie
 * and CSRF value, and the signature part of each token.
 */
import { randomBytes } from 'node:crypto';
import { createTestDatabases, type TestDatabases } from './helpers/databases';
import { SseClient } from '../harness/sse';
import { freePort, waitForHttp } from '../harness/test-infrastructure';
import { testNamespace, workflowBundle } from './helpers/temporal';
import { startProgram, type ServiceProcess } from './helpers/service-process';
import { createInventoryDb } from '../services/inventory/db';
import { databaseUrlEnv } from '../lib/config';

jest.setTimeout(5 * 60_000);

let dbs: TestDatabases;
let api: ServiceProcess;
let worker: ServiceProcess;
let base: string;
let productId: string;

beforeAll(async () => {
  dbs = await createTestDatabases();
  const inventory = createInventoryDb(dbs.urls.inventory);
  productId = (
    await inventory.product.create({ data: { sku: 'LOG-MUG', name: 'Mug', priceCents: 1_500, available: 5 } })
  ).id;
  await inventory.$disconnect();

  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    ...databaseUrlEnv(dbs.urls),
    // The run's bundle: a worker that bundled for itself would spend seconds of CPU on it.
    WORKFLOW_BUNDLE: workflowBundle().codePath,
    PORT: String(port),
    JWT_SECRET: randomBytes(32).toString('hex'),
    STRIPE_WEBHOOK_SECRET: `whsec_${randomBytes(16).toString('hex')}`,
    STRIPE_API_BASE: process.env.STRIPE_API_BASE,
    TEMPORAL_ADDRESS: process.env.TEMPORAL_ADDRESS,
    TEMPORAL_NAMESPACE: testNamespace(),
    WORKER_METRICS_PORT: '0',
    // As in the API harness: this test is about logs, and a busy 2-core machine running other
    // test files can take longer than the API's 10 s default to place an order.
    TEMPORAL_DEADLINE_MS: '60000',
    LOG_LEVEL: 'debug',
  };
  worker = startProgram('worker', 'tsx', env);
  api = startProgram('api', 'tsx', env);
  await Promise.all([
    worker.waitForOutput('workers polling', 180_000),
    waitForHttp(`${base}/healthz`, 'the API', { timeoutMs: 180_000 }),
  ]);
}, 5 * 60_000);

afterAll(async () => {
  await Promise.all([api?.stop(), worker?.stop()]);
  await dbs?.dispose();
});

function cookieValues(response: Response): Record<string, string> {
  return Object.fromEntries(
    response.headers.getSetCookie().map((line) => line.split(';')[0]!.split(/=(.*)/s, 2) as [string, string]),
  );
}

test('a whole session leaves no token, cookie value or password in the API or worker logs', async () => {
  const email = `logs.${Date.now().toString(36)}@example.com`;
  const password = `pw-${randomBytes(12).toString('hex')}`;
  const json = { 'content-type': 'application/json' };

  const signUp = await fetch(`${base}/v1/auth/signup`, {
    method: 'POST',
    headers: json,
    body: JSON.stringify({ email, password }),
  });
  expect(signUp.status).toBe(201);
  const signIn = await fetch(`${base}/v1/auth/signin`, {
    method: 'POST',
    headers: json,
    body: JSON.stringify({ email, password }),
  });
  expect(signIn.status).toBe(200);
  const wrong = await fetch(`${base}/v1/auth/signin`, {
    method: 'POST',
    headers: json,
    body: JSON.stringify({ email, password: `${password}-wrong` }),
  });
  expect(wrong.status).toBe(401);
  const cookies = cookieValues(signIn);
  const { token } = (await signIn.json()) as { token: string };
  const signUpToken = ((await signUp.json()) as { token: string }).token;
  const cookieHeader = `sf_session=${cookies.sf_session}; sf_csrf=${cookies.sf_csrf}`;

  // The dashboard's way (cookie) and a non-browser client's (?access_token=).
  const byCookie = await SseClient.connect(`${base}/v1/notifications/stream`, { headers: { cookie: cookieHeader } });
  const byQuery = await SseClient.connect(`${base}/v1/notifications/stream?access_token=${signUpToken}`);
  expect([byCookie.status, byQuery.status]).toEqual([200, 200]);

  const cart = await fetch(`${base}/v1/cart/items/${productId}`, {
    method: 'PUT',
    headers: { ...json, cookie: cookieHeader, 'x-csrf-token': cookies.sf_csrf! },
    body: JSON.stringify({ quantity: 1 }),
  });
  expect(cart.status).toBe(200);
  const placed = await fetch(`${base}/v1/orders`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'idempotency-key': 'log-order-1' },
  });
  expect(placed.status).toBe(201);
  const order = (await placed.json()) as { id: string };
  const paid = await fetch(`${base}/v1/orders/${order.id}/payment`, {
    method: 'POST',
    headers: { ...json, cookie: cookieHeader, 'x-csrf-token': cookies.sf_csrf! },
    body: JSON.stringify({ paymentMethod: 'pm_card_visa' }),
  });
  expect(paid.status).toBe(200);
  await byCookie.until(
    (client) =>
      client.json().some((event) => event.payload?.orderId === order.id && event.payload?.status === 'COMPLETED'),
    'the order completed',
    120_000,
  );
  byCookie.close();
  byQuery.close();
  const signOut = await fetch(`${base}/v1/auth/signout`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}` },
  });
  expect(signOut.status).toBe(204);

  await Promise.all([api.stop(), worker.stop()]);
  const logs = `${api.output()}\n${worker.output()}`;
  // The logs did see the session: its requests, the query-token stream (redacted) and the saga.
  expect(logs).toContain('/v1/auth/signin');
  expect(logs).toContain('/v1/notifications/stream?access_token=[REDACTED]');
  expect(worker.output()).toContain(order.id);

  const secrets = { password, token, signUpToken, sessionCookie: cookies.sf_session!, csrf: cookies.sf_csrf! };
  for (const [name, value] of Object.entries(secrets)) {
    expect([name, logs.includes(value)]).toEqual([name, false]);
    if (value.split('.').length === 3)
      expect([`${name} signature`, logs.includes(value.split('.')[2]!)]).toEqual([`${name} signature`, false]);
  }
});
