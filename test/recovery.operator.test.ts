/**
 * Temporal's own recovery tools, as an operator uses them (the real Temporal CLI against the
 * running API and workers): a reset, a termination and a cancellation of a checkout, each followed
 * by what a customer then expects of the order and by the reconciler, which must find nothing
 * once the order is settled (after `npm run ops -- repair` where the run was terminated).
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { databaseUrlEnv } from '../lib/config';
import { waitUntil } from '../devstack/waits';
import { ensureTool } from '../devstack/tools';
import { orderWorkflowId } from '../workflows/contract';
import { startApiHarness, TEST_SETTINGS, type ApiHarness } from './helpers/api';

jest.setTimeout(180_000);

const ROOT = path.resolve(__dirname, '..');
/** Long enough for the steps of a test before its expiry matters, short enough for the expiry test to wait for it. */
const ORDER_TTL_SECONDS = 20;

let api: ApiHarness;
let temporalCli: string;

beforeAll(async () => {
  [api, temporalCli] = await Promise.all([
    startApiHarness({ app: { settings: { ...TEST_SETTINGS, orderTtlSeconds: ORDER_TTL_SECONDS } } }),
    ensureTool('temporal'),
  ]);
});
afterAll(() => api?.close());

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(command: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** `temporal workflow <args>` against this test's namespace, failing the test on a non-zero exit. */
async function temporalWorkflow(...args: string[]): Promise<string> {
  const ran = await run(temporalCli, [
    'workflow',
    ...args,
    '--address',
    process.env.TEMPORAL_ADDRESS!,
    '--namespace',
    api.temporal.namespace,
  ]);
  if (ran.code !== 0) throw new Error(`temporal workflow ${args.join(' ')} exited ${ran.code}: ${ran.stderr}`);
  return ran.stdout;
}

/** `npm run ops -- <args>` against this test's databases and namespace, as an operator types it. */
function ops(...args: string[]): Promise<Ran> {
  return run('npm', ['run', '--silent', 'ops', '--', ...args], {
    ...process.env,
    ...databaseUrlEnv(api.dbs.urls),
    TEMPORAL_NAMESPACE: api.temporal.namespace,
    STRIPE_SECRET_KEY: '',
    ORDER_TTL_SECONDS: String(ORDER_TTL_SECONDS),
  });
}

async function newProduct(available: number) {
  const sku = `OPS-${randomUUID().slice(0, 8)}`;
  return api.services.inventory.createProduct({ sku, name: `Product ${sku}`, priceCents: 1_200, available });
}

/** A customer places an order of three units through the API; answers the order as placed. */
async function placeOrder(productId: string) {
  const customer = `operator-tier-${randomUUID().slice(0, 8)}`;
  const placed = await api.as(customer, {
    method: 'POST',
    url: '/v1/orders',
    payload: { items: [{ productId, quantity: 3 }] },
  });
  expect(placed.statusCode).toBe(201);
  return { customer, order: placed.json() as { id: string; status: string; expiresAt: string } };
}

const orderOf = async (customer: string, orderId: string) =>
  (await api.as(customer, { method: 'GET', url: `/v1/orders/${orderId}` })).json() as {
    status: string;
    expiresAt: string;
  };
const available = async (productId: string) => (await api.services.inventory.getProduct(productId))!.available;
const ordersUsed = async (customer: string) =>
  (await api.services.quota.getQuota(customer)).resources.find((r) => r.resource === 'orders')?.used ?? 0;

async function runOf(orderId: string) {
  const description = await api.temporal.client.workflow.getHandle(orderWorkflowId(orderId)).describe();
  return { runId: description.runId, status: description.status.name };
}

async function closed(orderId: string): Promise<void> {
  await waitUntil(`order ${orderId}'s checkout to close`, async () => (await runOf(orderId)).status !== 'RUNNING', {
    timeoutMs: 60_000,
  });
}

/** `npm run ops -- reconcile` with no grace: every order counts, however young. */
async function reconcile(): Promise<Ran> {
  return ops('reconcile', '--grace-seconds', '0');
}

it('a reset to the first workflow task of a waiting order leaves it waiting, with one reservation, payable once', async () => {
  const product = await newProduct(10);
  const { customer, order } = await placeOrder(product.id);
  expect(order.status).toBe('AWAITING_PAYMENT');
  const before = await runOf(order.id);

  await temporalWorkflow(
    'reset',
    '--workflow-id',
    orderWorkflowId(order.id),
    '--type',
    'FirstWorkflowTask',
    '--reason',
    'operator tier: reset after a fix',
    '--yes',
  );
  await waitUntil('the reset run to adopt the order', async () => {
    const now = await runOf(order.id);
    if (now.runId === before.runId || now.status !== 'RUNNING') return false;
    const state = await api.temporal.client.workflow.getHandle(orderWorkflowId(order.id)).query('state');
    return (state as { status: string }).status === 'AWAITING_PAYMENT';
  });
  expect(await orderOf(customer, order.id)).toMatchObject({ status: 'AWAITING_PAYMENT', expiresAt: order.expiresAt });
  expect(await available(product.id)).toBe(7);
  expect(await ordersUsed(customer)).toBe(1);

  const paid = await api.as(customer, {
    method: 'POST',
    url: `/v1/orders/${order.id}/payment`,
    payload: { paymentMethod: 'pm_card_visa' },
  });
  expect(paid.statusCode).toBe(200);
  await closed(order.id);
  expect((await orderOf(customer, order.id)).status).toBe('COMPLETED');
  expect(await api.services.payments.get(order.id)).toMatchObject({
    status: 'SUCCEEDED',
    attempts: [{ attempt: 1, outcome: 'SUCCEEDED' }],
  });
  expect(await available(product.id)).toBe(7);
  expect(await ordersUsed(customer)).toBe(1);
  expect(await reconcile()).toMatchObject({ code: 0, stderr: '' });
});

it('a terminated waiting order is named by the reconciler and repaired by ops repair, its stock and quota back', async () => {
  const product = await newProduct(10);
  const { customer, order } = await placeOrder(product.id);
  await temporalWorkflow('terminate', '--workflow-id', orderWorkflowId(order.id), '--reason', 'operator tier');
  await closed(order.id);

  const found = await reconcile();
  expect(found.code).toBe(1);
  expect(found.stdout).toContain('order-has-workflow');
  expect(found.stdout).toContain(`[order ${order.id}]`);
  expect(await available(product.id)).toBe(7);

  // Repaired before its deadline, the order waits again and the customer can still cancel it.
  const repaired = await ops('repair', order.id);
  expect(repaired).toMatchObject({ code: 0 });
  expect(repaired.stdout).toContain('started a recovery run');
  await waitUntil('the recovery run to adopt the order', async () => (await runOf(order.id)).status === 'RUNNING');
  expect((await ops('repair', order.id)).stdout).toContain('has a running checkout workflow');

  const cancelled = await api.as(customer, { method: 'POST', url: `/v1/orders/${order.id}/cancel`, payload: {} });
  expect(cancelled.statusCode).toBe(200);
  await closed(order.id);
  expect((await orderOf(customer, order.id)).status).toBe('CANCELLED');
  expect(await available(product.id)).toBe(10);
  expect(await ordersUsed(customer)).toBe(0);
  expect(await reconcile()).toMatchObject({ code: 0, stderr: '' });
});

it('a terminated order repaired after its deadline expires at once and gives everything back', async () => {
  const product = await newProduct(10);
  const { customer, order } = await placeOrder(product.id);
  await temporalWorkflow('terminate', '--workflow-id', orderWorkflowId(order.id), '--reason', 'operator tier');
  await waitUntil('the order to pass its deadline', async () => Date.now() > Date.parse(order.expiresAt), {
    timeoutMs: (ORDER_TTL_SECONDS + 10) * 1000,
    intervalMs: 500,
  });

  expect((await ops('repair', order.id)).code).toBe(0);
  await closed(order.id);
  expect((await orderOf(customer, order.id)).status).toBe('EXPIRED');
  expect(await available(product.id)).toBe(10);
  expect(await ordersUsed(customer)).toBe(0);
  expect(await reconcile()).toMatchObject({ code: 0, stderr: '' });
});

it('a cancel from the Temporal CLI cancels a waiting order and gives its stock back', async () => {
  const product = await newProduct(10);
  const { customer, order } = await placeOrder(product.id);
  await temporalWorkflow('cancel', '--workflow-id', orderWorkflowId(order.id));
  await closed(order.id);
  expect((await orderOf(customer, order.id)).status).toBe('CANCELLED');
  expect(await available(product.id)).toBe(10);
  expect(await reconcile()).toMatchObject({ code: 0, stderr: '' });
});
