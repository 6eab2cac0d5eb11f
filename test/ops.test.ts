/**
 * Operating orders, end to end on the test dev server: a checkout run by the real worker
 * process carries its summaries, search attributes and memo; that worker logs JSON lines
 * naming the order and serves the SDK's metrics for Prometheus; and `npm run ops`, run as a
 * process, lists an order parked in NEEDS_ATTENTION and retries it. The worker also keeps the
 * reconciler's Schedule at the configured interval.
 */
import { ApplicationFailure, defaultPayloadConverter, type Payload } from '@temporalio/common';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { createActivitiesByQueue } from '../worker/activities-by-queue';
import type { InventoryActivities } from '../activities/inventory.activities';
import { CheckoutClient, checkoutStartOptions } from '../temporal/checkout-client';
import { listOrders, type OrderDetails, type OrderListing } from '../ops/orders';
import { freePort } from '../devstack/ports';
import { waitUntil } from '../devstack/waits';
import type { Services } from '../services';
import { checkoutWorkflow } from '../workflows/checkout/checkout.workflow';
import { orderWorkflowId, RECONCILER_SCHEDULE_ID, type CheckoutState, type OrderStatus } from '../workflows/contract';
import type { TestDatabases } from './helpers/databases';
import type { RunningWorkers, TestTemporal } from './helpers/temporal';
import { startProgram, testProcessEnv, type ServiceProcess } from './helpers/service-process';
import { closeTestBed, openTestBed } from './helpers/test-bed';
import { checkoutOf, newProduct, reach as reachState } from './helpers/checkouts';
import { expectReconcilerSchedule } from './helpers/reconciler-schedule';
import type { ProductView } from '../services/inventory/inventory.service';

jest.setTimeout(120_000);

const ROOT = path.resolve(__dirname, '..');
let dbs: TestDatabases;
let services: Services;
let temporal: TestTemporal;

beforeAll(async () => {
  ({ dbs, services, temporal } = await openTestBed());
});

afterAll(() => closeTestBed({ temporal, services, dbs }));

/** `npm run ops -- <args>` as an operator would type it. */
function ops(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('npm', ['run', '--silent', 'ops', '--', ...args], {
      cwd: ROOT,
      env: testProcessEnv(dbs.urls),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const newProductOf = (available: number) => newProduct(services.inventory, 'OPS', available, 1_250);
const checkoutInput = (product: ProductView, quantity: number, ttlSeconds: number) =>
  checkoutOf(product, quantity, ttlSeconds, 'ops');

const reach = (orderId: string, status: OrderStatus): Promise<CheckoutState> =>
  reachState(temporal.client.workflow.getHandle(orderWorkflowId(orderId)), status);

/** The summaries (user metadata) of the activities and timers the workflow scheduled, from its history. */
async function scheduledSummaries(orderId: string): Promise<string[]> {
  const history = await temporal.client.workflow.getHandle(orderWorkflowId(orderId)).fetchHistory();
  return (history.events ?? [])
    .filter((event) => event.activityTaskScheduledEventAttributes || event.timerStartedEventAttributes)
    .map((event) => defaultPayloadConverter.fromPayload<string>(event.userMetadata!.summary! as Payload));
}

describe('a checkout run by the worker process', () => {
  let worker: ServiceProcess | undefined;
  const lines = () => worker!.stdoutLines();
  let metricsPort: number;

  beforeAll(async () => {
    metricsPort = await freePort();
    worker = startProgram(
      'worker',
      'tsx',
      testProcessEnv(dbs.urls, {
        WORKER_METRICS_PORT: String(metricsPort),
        LOG_LEVEL: 'debug',
        RECONCILER_INTERVAL_SECONDS: '1234',
      }),
    );
    await worker.waitForOutput('workers polling', 90_000);
  });

  // Stopped before the next describe starts workers of its own in the same namespace; the
  // Schedule would outlive the file in the namespace.
  afterAll(async () => {
    await temporal.client.schedule
      .getHandle(RECONCILER_SCHEDULE_ID)
      .delete()
      .catch(() => undefined);
    await worker?.stop();
  });

  it("keeps the reconciler's Schedule at RECONCILER_INTERVAL_SECONDS once it polls", async () => {
    expectReconcilerSchedule(await temporal.client.schedule.getHandle(RECONCILER_SCHEDULE_ID).describe(), 1_234);
    // Created, or (a Schedule an interrupted run left in the namespace) brought to this interval.
    expect(lines().map((line) => JSON.parse(line) as { msg: string })).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          msg: expect.stringMatching(/^reconciler schedule (created|up to date): every 1234 s$/),
        }),
      ]),
    );
  });

  it('carries summaries in words, current search attributes, a memo and current details', async () => {
    const product = await newProductOf(5);
    const input = checkoutInput(product, 2, 300);
    const checkout = new CheckoutClient(temporal.client);
    expect((await checkout.place(input)).status).toBe('AWAITING_PAYMENT');

    // While it waits for payment, as an operator sees it.
    const shown = await ops('show', input.orderId, '--json');
    expect(shown).toMatchObject({ code: 0 });
    const details = JSON.parse(shown.stdout) as OrderDetails;
    expect(details).toMatchObject({
      orderId: input.orderId,
      status: 'AWAITING_PAYMENT',
      execution: 'RUNNING',
      summary: `Checkout for ${input.customerId}: 2 items, 25.00 USD`,
      details: `- 2 × ${product.sku} ${product.name} at 12.50 USD`,
      memo: { customerId: input.customerId, totalCents: 2_500, currency: 'usd', units: 2 },
      searchAttributes: { OrderStatus: 'AWAITING_PAYMENT', CustomerId: input.customerId },
      state: { status: 'AWAITING_PAYMENT' },
    });
    expect(details.currentDetails).toMatch(/^Awaiting payment of 25\.00 USD until /);
    expect(details.steps).toEqual(
      expect.arrayContaining([
        { kind: 'activity', name: 'reserveStock', summary: `Reserve 2 × ${product.sku}`, outcome: 'completed' },
        { kind: 'timer', name: 'timer', summary: 'Expire the order unless paid within 5 min', outcome: 'running' },
      ]),
    );

    const paid = await checkout.pay(input.orderId, input.customerId, 'pm_card_visa');
    expect(paid.status).toBe('PAID');
    const handle = temporal.client.workflow.getHandle(orderWorkflowId(input.orderId));
    await handle.result();

    expect(await scheduledSummaries(input.orderId)).toEqual([
      `Count 1 order against ${input.customerId}'s monthly quota`,
      `Record order ${input.orderId}: 2 items, 25.00 USD`,
      `Reserve 2 × ${product.sku}`,
      'Mark the order AWAITING_PAYMENT',
      `Tell ${input.customerId} the order is AWAITING_PAYMENT`,
      'Expire the order unless paid within 5 min',
      'Charge 25.00 USD (attempt 1)',
      `Sell the reserved 2 × ${product.sku}`,
      'Mark the order PAID',
      `Tell ${input.customerId} the order is PAID`,
      `Remove the 2 items ordered from ${input.customerId}'s cart`,
      'Mark the order COMPLETED',
      `Tell ${input.customerId} the order is COMPLETED`,
    ]);
    const described = await handle.describe();
    expect(described.searchAttributes).toMatchObject({ OrderStatus: ['COMPLETED'], CustomerId: [input.customerId] });
    expect(described.memo).toEqual({ customerId: input.customerId, totalCents: 2_500, currency: 'usd', units: 2 });

    // Every log line is JSON, and every line about this order names it: the workflow's own
    // lines (through the workflow logger) and its activities' lines alike.
    const workflowId = orderWorkflowId(input.orderId);
    const records = () => lines().map((line) => JSON.parse(line) as Record<string, unknown>);
    await waitUntil('the COMPLETED status in the worker log', async () =>
      records().some(
        (record) =>
          record.workflowId === workflowId && record.msg === 'Order status changed' && record.status === 'COMPLETED',
      ),
    );
    const ofOrder = records().filter((record) => record.workflowId === workflowId);
    expect(ofOrder.every((record) => record.orderId === input.orderId)).toBe(true);
    expect(ofOrder.filter((record) => record.sdkComponent === 'workflow').map((record) => record.status)).toEqual(
      expect.arrayContaining(['AWAITING_PAYMENT', 'PAID', 'COMPLETED']),
    );
    expect(ofOrder).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ msg: 'Activity completed', activityType: 'chargePayment', orderId: input.orderId }),
      ]),
    );
  });

  it('serves the Temporal SDK metrics in Prometheus format', async () => {
    const response = await fetch(`http://127.0.0.1:${metricsPort}/metrics`);
    expect(response.status).toBe(200);
    const text = await response.text();
    const series = (name: string) => text.split('\n').filter((line) => line.startsWith(`${name}{`));
    expect(
      series('temporal_workflow_task_schedule_to_start_latency_bucket').some((line) =>
        line.includes('task_queue="checkout"'),
      ),
    ).toBe(true);
    expect(
      series('temporal_activity_schedule_to_start_latency_count').some((line) =>
        line.includes('task_queue="payments"'),
      ),
    ).toBe(true);
    expect(series('temporal_worker_task_slots_available').length).toBeGreaterThan(0);
    expect(series('temporal_request').length).toBeGreaterThan(0);
    const completed = series('temporal_workflow_completed').find((line) =>
      line.includes('workflow_type="checkoutWorkflow"'),
    );
    expect(Number(completed?.split(' ').pop())).toBeGreaterThanOrEqual(1);
  });
});

describe('npm run ops', () => {
  let workers: RunningWorkers | undefined;
  /** Orders whose stock release is refused (the inventory database read-only for them) until taken out. */
  const releaseRefused = new Set<string>();
  beforeAll(async () => {
    const activities = createActivitiesByQueue(services, temporal.client);
    const inventory = activities.inventory as InventoryActivities;
    workers = await temporal.startWorkers({
      ...activities,
      inventory: {
        ...inventory,
        async releaseStock(input: { orderId: string }) {
          if (releaseRefused.has(input.orderId))
            throw ApplicationFailure.nonRetryable('inventory database is read-only', 'STORAGE_READ_ONLY');
          return inventory.releaseStock(input);
        },
      },
    });
  });
  afterAll(() => workers?.stop());

  /** The operator's update in the order's history, as the order accepted it: what `npm run ops` sent, and as whom. */
  async function operatorDecision(orderId: string) {
    const history = await temporal.client.workflow.getHandle(orderWorkflowId(orderId)).fetchHistory();
    const accepted = history.events!.flatMap((event) => {
      const request = event.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest;
      return request && ['retry', 'resolve'].includes(request.input?.name ?? '') ? [request] : [];
    });
    expect(accepted).toHaveLength(1);
    const request = accepted[0]!;
    expect(request.meta?.identity).toMatch(/^storefront-ops\//);
    return {
      action: request.input!.name,
      ...defaultPayloadConverter.fromPayload<object>(request.input!.args!.payloads![0]! as Payload),
    };
  }

  it('lists an order parked in NEEDS_ATTENTION and retries it', async () => {
    const product = await newProductOf(2);
    const input = checkoutInput(product, 2, 1);
    releaseRefused.add(input.orderId);
    await temporal.client.workflow.start(checkoutWorkflow, checkoutStartOptions(input));
    await reach(input.orderId, 'NEEDS_ATTENTION');
    // Visibility follows the workflow's search attributes a moment later.
    await waitUntil('the parked order in visibility', async () =>
      (await listOrders(temporal.client, { status: 'NEEDS_ATTENTION' })).some(
        (order) => order.orderId === input.orderId,
      ),
    );

    const listed = await ops('list', '--json');
    expect(listed).toMatchObject({ code: 0 });
    expect(JSON.parse(listed.stdout) as OrderListing[]).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          orderId: input.orderId,
          status: 'NEEDS_ATTENTION',
          customerId: input.customerId,
          totalCents: 2_500,
          currency: 'usd',
        }),
      ]),
    );
    const table = await ops('list', '--customer', input.customerId);
    expect(table.stdout).toMatch(
      new RegExp(`${input.orderId}\\s+NEEDS_ATTENTION\\s+${input.customerId}\\s+25\\.00 USD`),
    );

    const shown = await ops('show', input.orderId);
    expect(shown.stdout).toContain('NEEDS ATTENTION: undoing stockReserved failed: inventory database is read-only');
    expect(shown.stdout).toContain(`✗ Release the stock of order ${input.orderId}`);

    releaseRefused.delete(input.orderId);
    const retried = await ops('retry', input.orderId, '--note', 'inventory database writable again', '--wait', '60');
    expect(retried).toMatchObject({ code: 0 });
    expect(retried.stdout).toContain(`order ${input.orderId} closed: EXPIRED`);
    expect(await services.orders.get(input.orderId)).toMatchObject({ status: 'EXPIRED' });
    expect(await services.inventory.getProduct(product.id)).toMatchObject({ available: 2 });

    expect(await operatorDecision(input.orderId)).toEqual({
      action: 'retry',
      note: 'inventory database writable again',
    });

    // An order that is not parked has nothing to retry: refused, with the reason.
    const refused = await ops('retry', input.orderId);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`Order ${input.orderId} is EXPIRED, not NEEDS_ATTENTION`);
  });

  it('resolves an order parked in NEEDS_ATTENTION whose undo was done by hand: the order closes, stock and quota are back', async () => {
    const product = await newProductOf(3);
    const input = checkoutInput(product, 2, 1);
    releaseRefused.add(input.orderId);
    await temporal.client.workflow.start(checkoutWorkflow, checkoutStartOptions(input));
    await reach(input.orderId, 'NEEDS_ATTENTION');
    expect(await services.inventory.getProduct(product.id)).toMatchObject({ available: 1 });
    expect(await services.orders.get(input.orderId)).toMatchObject({ status: 'NEEDS_ATTENTION' });

    // The operator releases the stock by hand (the inventory database still refuses the worker), then says so.
    expect(await services.inventory.release(input.orderId)).toMatchObject({ status: 'RELEASED' });
    // Its --wait is shorter than the test's timeout: an order that does not close is the command's exit 2, not a timeout.
    const resolved = await ops('resolve', input.orderId, '--note', 'stock released by hand', '--wait', '30');
    expect(resolved).toMatchObject({ code: 0 });
    expect(resolved.stdout).toContain(`order ${input.orderId} closed: EXPIRED`);

    // The unwinding went on past the resolved step: the order row closed, the stock whole, the quota given back.
    expect(await services.orders.get(input.orderId)).toMatchObject({ status: 'EXPIRED' });
    expect(await services.inventory.getProduct(product.id)).toMatchObject({ available: 3 });
    expect(await services.inventory.findReservation(input.orderId)).toMatchObject({ status: 'RELEASED' });
    expect(
      (await services.quota.getQuota(input.customerId)).resources.find((r) => r.resource === 'orders')?.used ?? 0,
    ).toBe(0);
    expect(await operatorDecision(input.orderId)).toEqual({ action: 'resolve', note: 'stock released by hand' });
    releaseRefused.delete(input.orderId);
  });
});
