/**
 * The operators' release and repair tools as an operator runs them (`npm run ops`, as a process,
 * against the running API and workers).
 *
 * The release gate: `replay-check` replays what the namespace holds after paid, cancelled and
 * expired orders and finds nothing; with a planted incompatible change as the workflow code (the
 * checkout clearing the cart before it writes PAID), it names each history that diverges and its
 * first divergent event, `set-current` refuses that build, and `--dir` does the same for exported
 * histories.
 *
 * Rollback dry runs: `what-if` on a waiting order says which undos a cancel, or its deadline, would
 * run, in order, with their keys and what they give back, and the history then shows exactly those
 * activities; on a completed order it says nothing would run. `what-if ... refund` on a paid order,
 * then on the partly refunded one, says which steps the refund saga would run with which keys, money
 * and units, and the refunds then run exactly those; on a fully refunded order both refuse alike.
 *
 * Stuck orders: `stuck` finds an order whose cart step keeps failing (the cart database made
 * unreachable), one open past its deadline (its stock release held by a lock), and a stranded one
 * (its checkout terminated); once the database is back, the lock released and the stranded order
 * repaired, it finds nothing.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client as PgClient } from 'pg';
import { waitUntil } from '../devstack/waits';
import { bundleVariant, VARIANTS } from '../harness/workflow-variants';
import type { StuckOrder } from '../ops/stuck';
import type { WhatIfPlan } from '../ops/what-if';
import type { RefundWhatIf } from '../ops/what-if-refund';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { run as runOps } from '../scripts/ops';
import { orderWorkflowId, refundWorkflowId } from '../workflows/contract';
import {
  holdLock,
  isEventType,
  run,
  someoneWaitsForLock,
  useOperatorBench,
  type HistoryEvent,
  type PlacedOrder,
} from './helpers/operator';
import { workflowBundle } from './helpers/temporal';

jest.setTimeout(240_000);

/** Short, so that an order here expires while the file runs. */
const ORDER_TTL_SECONDS = 6;
// replay-check's counts span the namespace: earlier files' orders must not end inside this file's window.
const bench = useOperatorBench(ORDER_TTL_SECONDS, { ownNamespace: true });
const startedAt = Date.now();
/** This file's own folder: the planted bundle and the exported histories. */
const dir = mkdtempSync(path.join(os.tmpdir(), 'release-operator-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** `npm run ops -- <args>` with `code` as the workflow code it replays against (WORKFLOW_BUNDLE). */
const opsWith = (code: string, ...args: string[]) =>
  run('npm', ['run', '--silent', 'ops', '--', ...args], {
    ...process.env,
    TEMPORAL_NAMESPACE: bench.api.temporal.namespace,
    WORKFLOW_BUNDLE: code,
  });
/** The window replay-check looks back over: since this file started, in a namespace that holds only its orders. */
const sinceThisFile = () => `${Math.ceil((Date.now() - startedAt) / 1000) + 5}s`;

let plantedCode: string;
const orders: { paid: string; cancelled: string; expired: string } = { paid: '', cancelled: '', expired: '' };

beforeAll(async () => {
  plantedCode = path.join(dir, 'planted.js');
  writeFileSync(plantedCode, (await bundleVariant(VARIANTS.stepsSwapped)).code);
  const product = await bench.newProduct(30);
  // One after another: each is paid or cancelled well within its few seconds.
  const paid = await bench.placeOrder(product.id);
  expect((await bench.pay(paid.customer, paid.order.id)).statusCode).toBe(200);
  const cancelled = await bench.placeOrder(product.id);
  const cancel = await bench.api.as(cancelled.customer, {
    method: 'POST',
    url: `/v1/orders/${cancelled.order.id}/cancel`,
    payload: { reason: 'release tier' },
  });
  expect(cancel.statusCode).toBe(200);
  const expired = await bench.placeOrder(product.id);
  await Promise.all([paid, cancelled, expired].map(({ order }) => bench.closed(order.id)));
  expect((await bench.orderOf(expired.customer, expired.order.id)).status).toBe('EXPIRED');
  Object.assign(orders, { paid: paid.order.id, cancelled: cancelled.order.id, expired: expired.order.id });
});

it('replay-check replays every history of the namespace with the current code and finds nothing', async () => {
  const checked = await opsWith(workflowBundle().codePath, 'replay-check', '--since', sinceThisFile());
  expect({ code: checked.code, stderr: checked.stderr }).toEqual({ code: 0, stderr: '' });
  expect(checked.stdout).toMatch(/^checkoutWorkflow\s+3 replayed, 0 diverged$/m);
  expect(checked.stdout).toMatch(/histories from namespace .* replay with this workflow code/);
});

it('replay-check names the history a planted incompatible change breaks, with its first divergent event', async () => {
  const checked = await opsWith(plantedCode, 'replay-check', '--since', sinceThisFile(), '--type', 'checkoutWorkflow');
  expect(checked.code).toBe(1);
  expect(checked.stdout).toMatch(/^checkoutWorkflow\s+3 replayed, 1 diverged$/m);
  // Only the paid order reached the swapped steps: the code now clears the cart where PAID was written.
  expect(checked.stdout).toMatch(
    new RegExp(
      `✗ ${orderWorkflowId(orders.paid)} \\(run [0-9a-f-]+\\), checkoutWorkflow: first divergent event #\\d+ ActivityTaskScheduled \\(setOrderStatus\\): .*'setOrderStatus' does not match .*'clearCart'`,
    ),
  );
  expect(checked.stdout).not.toContain(orders.cancelled);
  expect(checked.stdout).not.toContain(orders.expired);
});

it('set-current refuses a build whose code does not replay the histories it would run, before routing anything', async () => {
  const refused = await opsWith(
    plantedCode,
    'set-current',
    'planted-build',
    '--deployment',
    'release-tier',
    '--since',
    sinceThisFile(),
  );
  expect(refused.code).toBe(1);
  expect(refused.stdout).toContain(`✗ ${orderWorkflowId(orders.paid)}`);
  expect(refused.stdout).toContain('refused: release-tier build planted-build stays as it is');
  // Skipping the gate goes on to the server, which knows no such build.
  const skipped = await opsWith(
    plantedCode,
    'set-current',
    'planted-build',
    '--deployment',
    'release-tier',
    '--skip-replay-check',
  );
  expect(skipped.code).toBe(1);
  expect(skipped.stdout).toContain('replay-check skipped');
  expect(skipped.stderr).toMatch(/No worker deployment|No worker of release-tier build planted-build/);
});

it('replay-check --dir replays exported histories, as CI does', async () => {
  const exported = path.join(dir, 'exported');
  mkdirSync(exported);
  for (const [name, orderId] of Object.entries(orders))
    writeFileSync(
      path.join(exported, `${name}.json`),
      await bench.temporalWorkflow('show', '--workflow-id', orderWorkflowId(orderId), '--output', 'json'),
    );
  const passes = await opsWith(workflowBundle().codePath, 'replay-check', '--dir', exported);
  expect({ code: passes.code, stdout: passes.stdout }).toEqual({
    code: 0,
    stdout: expect.stringMatching(/^checkoutWorkflow\s+3 replayed, 0 diverged$/m),
  });
  const fails = await opsWith(plantedCode, 'replay-check', '--dir', exported);
  expect(fails.code).toBe(1);
  expect(fails.stdout).toMatch(
    /✗ paid, checkoutWorkflow: first divergent event #\d+ ActivityTaskScheduled \(setOrderStatus\)/,
  );
});

/**
 * Makes a service database refuse every connection (its open ones ended): what its activities
 * see when the database is down. `restore` lets connections in again.
 */
async function makeUnreachable(url: string): Promise<{ restore(): Promise<void> }> {
  const database = new URL(url).pathname.slice(1);
  const admin = new PgClient({ connectionString: Object.assign(new URL(url), { pathname: '/postgres' }).toString() });
  await admin.connect();
  await admin.query(`ALTER DATABASE "${database}" ALLOW_CONNECTIONS false`);
  await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [database]);
  return {
    async restore() {
      await admin.query(`ALTER DATABASE "${database}" ALLOW_CONNECTIONS true`);
      await admin.end();
    },
  };
}

it('stuck finds an order whose step keeps failing, one open past its deadline and a stranded one; then none', async () => {
  const [productA, productB, productC] = [
    await bench.newProduct(10),
    await bench.newProduct(10),
    await bench.newProduct(10),
  ];
  // Past its deadline: its stock release waits on the product's row when the order expires.
  const expiring = await bench.placeOrder(productA.id);
  const lock = await holdLock(bench.api.dbs.urls.inventory, 'SELECT id FROM products WHERE id = $1 FOR UPDATE', [
    productA.id,
  ]);
  // Retrying: paid, then its cart cannot be cleared while the cart database is down.
  const failing = await bench.placeOrder(productB.id);
  const cartDown = await makeUnreachable(bench.api.dbs.urls.cart);
  let stranded!: PlacedOrder;
  try {
    expect((await bench.pay(failing.customer, failing.order.id)).statusCode).toBe(200);
    // Stranded: its checkout terminated while it waits for payment.
    stranded = await bench.placeOrder(productC.id);
    await bench.temporalWorkflow('terminate', '--workflow-id', orderWorkflowId(stranded.order.id), '--reason', 'stuck');
    await bench.closed(stranded.order.id);
    await waitUntil('the expiring order to wait on its stock release', () =>
      someoneWaitsForLock(bench.api.dbs.urls.inventory),
    );

    let found: StuckOrder[] = [];
    await waitUntil(
      'stuck to find all three',
      async () => {
        const listed = await bench.ops('stuck', '--older-than', '0s', '--attempts', '3', '--json');
        found = JSON.parse(listed.stdout) as StuckOrder[];
        return [expiring, failing, stranded].every(({ order }) => found.some((stuck) => stuck.orderId === order.id));
      },
      { timeoutMs: 90_000 },
    );
    expect(found).toEqual(
      expect.arrayContaining([
        {
          orderId: expiring.order.id,
          reason: 'past-expiry',
          detail: `still AWAITING_PAYMENT, its deadline ${new Date(expiring.order.expiresAt).toISOString()} passed`,
          next: `npm run ops -- show ${expiring.order.id}`,
          expiresAt: new Date(expiring.order.expiresAt).toISOString(),
        },
        expect.objectContaining({
          orderId: failing.order.id,
          reason: 'retrying',
          activity: expect.objectContaining({ name: 'clearCart', lastFailure: expect.any(String) }),
        }),
        {
          orderId: stranded.order.id,
          reason: 'stranded',
          detail: 'a AWAITING_PAYMENT order has no running checkout workflow (terminated, timed out or lost)',
          next: `npm run ops -- repair ${stranded.order.id}`,
        },
      ]),
    );
    expect(found.find((stuck) => stuck.reason === 'retrying')!.activity!.attempt).toBeGreaterThanOrEqual(3);
    const shown = await bench.ops('stuck', '--older-than', '0s', '--attempts', '3');
    expect(shown.code).toBe(1);
    const table = shown.stdout;
    expect(table).toMatch(
      new RegExp(`^${failing.order.id}\\s+retrying\\s+clearCart on attempt \\d+, last failure: `, 'm'),
    );
    expect(table).toMatch(
      new RegExp(`^${stranded.order.id}\\s+stranded\\s+.*\\(next: npm run ops -- repair ${stranded.order.id}\\)$`, 'm'),
    );
  } finally {
    await cartDown.restore();
    await lock.release();
  }

  expect((await bench.ops('repair', stranded.order.id)).code).toBe(0);
  await Promise.all([expiring, failing, stranded].map(({ order }) => bench.closed(order.id)));
  expect(
    await Promise.all(
      [expiring, failing, stranded].map(
        async ({ customer, order }) => (await bench.orderOf(customer, order.id)).status,
      ),
    ),
  ).toEqual(['EXPIRED', 'COMPLETED', 'EXPIRED']);
  const none = await bench.ops('stuck', '--older-than', '0s', '--attempts', '3');
  expect({ code: none.code, stdout: none.stdout }).toEqual({
    code: 0,
    stdout: expect.stringMatching(/^no stuck orders/),
  });
});

/** `npm run ops -- <args>` in this process (an order here waits only seconds: a new process each time would be late). */
async function opsHere(...args: string[]): Promise<{ code: number; stdout: string }> {
  const lines: string[] = [];
  const code = await runOps(args, bench.api.temporal.client, (line) => lines.push(line), {});
  return { code, stdout: lines.join('\n') };
}

/**
 * The activities the checkout scheduled once the order was waiting (after its first setOrderStatus,
 * the AWAITING_PAYMENT write), but for the status events that run beside the saga.
 */
function activitiesOnceWaiting(events: readonly HistoryEvent[]): string[] {
  const activities = events
    .filter((event) => isEventType(event, 'ActivityTaskScheduled'))
    .map(
      (event) =>
        event.activityTaskScheduledEventAttributes as {
          activityType?: { name?: string };
          taskQueue?: { name?: string };
        },
    )
    .filter((scheduled) => scheduled.taskQueue?.name !== 'notifications')
    .map((scheduled) => scheduled.activityType?.name ?? '?');
  return activities.slice(activities.indexOf('setOrderStatus') + 1);
}

const plannedActivities = (plan: WhatIfPlan) => [
  ...plan.compensations.map((undo) => undo.activity),
  plan.then!.activity,
];

it('what-if says what a cancel and an expiry would undo, and they then undo exactly that; nothing for a completed order', async () => {
  const product = await bench.newProduct(20);
  const [cancelled, expiring] = [await bench.placeOrder(product.id), await bench.placeOrder(product.id)];
  const [ifCancelled, ifExpired] = await Promise.all([
    opsHere('what-if', cancelled.order.id, 'cancel', '--json'),
    opsHere('what-if', expiring.order.id, 'expire', '--json'),
  ]);
  const cancelPlan = JSON.parse(ifCancelled.stdout) as WhatIfPlan;
  const expiryPlan = JSON.parse(ifExpired.stdout) as WhatIfPlan;
  const cancel = await bench.api.as(cancelled.customer, {
    method: 'POST',
    url: `/v1/orders/${cancelled.order.id}/cancel`,
    payload: { reason: 'what-if' },
  });
  expect(cancel.statusCode).toBe(200);

  // First any charge the run has no record of (an order that awaited payment may hold one whose answer was
  // lost), then the stock and the quota: taken side by side, so given back side by side, the stock first.
  const undos = (orderId: string, customer: string) => [
    {
      step: 'paymentCharged',
      activity: 'refundPayment',
      idempotencyKey: `order:${orderId}:refund (order:${orderId}:cancel for an intent that took nothing)`,
      givesBack: 'any charge of the order this run has no record of (nothing when there is none)',
      group: 1,
    },
    {
      step: 'stockReserved',
      activity: 'releaseStock',
      idempotencyKey: `reservation of order ${orderId}`,
      givesBack: '3 reserved units',
      group: 2,
    },
    {
      step: 'quotaChecked',
      activity: 'releaseOrderQuota',
      idempotencyKey: `${customer}/order:${orderId}`,
      givesBack: `1 order of ${customer}'s monthly quota`,
      group: 2,
    },
  ];
  expect(cancelPlan).toEqual({
    orderId: cancelled.order.id,
    action: 'cancel',
    status: 'AWAITING_PAYMENT',
    endsAs: 'CANCELLED',
    compensations: undos(cancelled.order.id, cancelled.customer),
    then: { activity: 'setOrderStatus', status: 'CANCELLED' },
  });
  expect(expiryPlan).toMatchObject({
    endsAs: 'EXPIRED',
    compensations: undos(expiring.order.id, expiring.customer),
    then: { activity: 'setOrderStatus', status: 'EXPIRED' },
  });

  await Promise.all([cancelled, expiring].map(({ order }) => bench.closed(order.id)));
  expect(await bench.orderOf(cancelled.customer, cancelled.order.id)).toMatchObject({ status: 'CANCELLED' });
  expect(await bench.orderOf(expiring.customer, expiring.order.id)).toMatchObject({ status: 'EXPIRED' });
  expect(activitiesOnceWaiting(await bench.historyOf(cancelled.order.id))).toEqual(plannedActivities(cancelPlan));
  expect(activitiesOnceWaiting(await bench.historyOf(expiring.order.id))).toEqual(plannedActivities(expiryPlan));

  // As an operator reads it, and for an order that has ended: nothing would run.
  const paid = await bench.placeOrder(product.id);
  const shown = await opsHere('what-if', paid.order.id, 'cancel');
  expect(shown.stdout).toContain(
    `2. releaseStock (undoes stockReserved, beside the others of group 2): gives back 3 reserved units`,
  );
  expect(shown.stdout).toContain('nothing was run (a dry run)');
  expect((await bench.pay(paid.customer, paid.order.id)).statusCode).toBe(200);
  await bench.closed(paid.order.id);
  await expect(opsHere('what-if', paid.order.id, 'cancel')).rejects.toThrow(
    `Order ${paid.order.id}'s checkout has ended (COMPLETED): nothing would run`,
  );
});

/** Each activity the refund saga scheduled once it ended, in order, with its input (the status events and notices included). */
async function refundActivities(refundId: string) {
  const handle = bench.api.temporal.client.workflow.getHandle(refundWorkflowId(refundId));
  // The command answers once the money is back; the saga goes on to the units, the order and the notices.
  await handle.result();
  const history = await handle.fetchHistory();
  return (history.events ?? []).flatMap((event) => {
    const scheduled = event.activityTaskScheduledEventAttributes;
    if (!scheduled) return [];
    const input = defaultPayloadConverter.fromPayload(scheduled.input!.payloads![0]! as Payload);
    return [{ activity: scheduled.activityType!.name!, input: input as Record<string, unknown> }];
  });
}

/** The real refund ran what the dry run said: the same activities in order, its keys, money and units. */
async function expectRanAsPlanned(plan: RefundWhatIf) {
  const ran = await refundActivities(plan.refundId);
  expect(ran.map(({ activity }) => activity)).toEqual(plan.steps.flatMap((step) => step.activities));
  const input = (activity: string) => ran.find((call) => call.activity === activity)!.input;
  expect(input('recordRefund')).toMatchObject({
    refundId: plan.refundId,
    amountCents: plan.amountCents,
    lines: plan.lines,
  });
  expect(input('refundAtStripe')).toEqual({ refundId: plan.refundId });
  if (plan.steps.some((step) => step.step === 'unitsRestocked'))
    expect(input('restockUnits')).toEqual({ refundId: plan.refundId, orderId: plan.orderId, lines: plan.lines });
  expect(input('recordOrderRefund')).toEqual({
    orderId: plan.orderId,
    refundId: plan.refundId,
    amountCents: plan.amountCents,
  });
  const notified = plan.steps.find((step) => step.step === 'customerNotified')!;
  expect([input('persistNotification').dedupeKey, input('notifyUser').dedupeKey]).toEqual(notified.idempotencyKeys);
  const moneyKey = plan.steps.find((step) => step.step === 'moneyRefunded')!.idempotencyKeys[0];
  expect(bench.stripe.requests.filter((r) => r.kind === 'refund').map((r) => r.idempotencyKey)).toContain(moneyKey);
}

it('what-if refund says what a refund would run, and the refund then runs exactly that; a refunded order refuses both alike', async () => {
  const product = await bench.newProduct(20);
  const { customer, order } = await bench.placeOrder(product.id);
  expect((await bench.pay(customer, order.id)).statusCode).toBe(200);
  await bench.closed(order.id);
  const refundArgs = ['--lines', `${product.id}:2`, '--reason', 'damaged in transit', '--restock'];

  // Two of the three units, back on sale: the dry run, then the refund the same command line makes.
  const dry = await bench.ops('what-if', order.id, 'refund', ...refundArgs, '--json');
  expect({ code: dry.code, stderr: dry.stderr }).toEqual({ code: 0, stderr: '' });
  const plan = JSON.parse(dry.stdout) as RefundWhatIf;
  const { refundId } = plan;
  expect(plan).toEqual({
    orderId: order.id,
    idempotencyKey: expect.stringMatching(/^ops:[0-9a-f]{32}$/),
    refundId: expect.stringMatching(/^[0-9a-f-]{36}$/),
    workflowId: `refund-${refundId}`,
    amountCents: 2_400,
    currency: 'usd',
    lines: [{ productId: product.id, quantity: 2 }],
    restock: true,
    endsAs: 'PARTIALLY_REFUNDED',
    steps: [
      expect.objectContaining({ step: 'refundRecorded', activities: ['recordRefund'] }),
      {
        step: 'moneyRefunded',
        activities: ['refundAtStripe'],
        idempotencyKeys: [`refund:${refundId}`],
        does: 'refunds 24.00 USD at Stripe',
      },
      expect.objectContaining({
        step: 'unitsRestocked',
        activities: ['restockUnits'],
        does: `puts 2 × ${product.id} back on sale`,
      }),
      expect.objectContaining({ step: 'orderRefunded', activities: ['recordOrderRefund'] }),
      {
        step: 'customerNotified',
        activities: ['persistNotification', 'notifyUser'],
        idempotencyKeys: [`order:${order.id}:PARTIALLY_REFUNDED`, `refund:${refundId}:succeeded`],
        does: `tells ${customer} the order is PARTIALLY_REFUNDED and 24.00 USD is refunded`,
      },
    ],
  });
  // Nothing ran: no refund recorded, no unit back on sale.
  expect(await bench.api.services.refunds.listForOrder(order.id)).toEqual([]);
  expect(await bench.stockOf(product.id)).toEqual({ available: 17, reserved: 0, sold: 3 });

  const refunded = await bench.ops('refund', order.id, ...refundArgs);
  expect({ code: refunded.code, stderr: refunded.stderr }).toEqual({ code: 0, stderr: '' });
  expect(refunded.stdout).toContain(`refund ${refundId}: SUCCEEDED, 24.00 USD`);
  await expectRanAsPlanned(plan);
  expect(await bench.stockOf(product.id)).toEqual({ available: 19, reserved: 0, sold: 1 });
  expect((await bench.orderOf(customer, order.id)).status).toBe('PARTIALLY_REFUNDED');
  // The same command again is the same refund: nothing more would run.
  const again = await bench.ops('what-if', order.id, 'refund', ...refundArgs);
  expect(again.stdout).toContain(
    `nothing would run: this request was made before, refund ${refundId} (SUCCEEDED, 24.00 USD)`,
  );

  // The rest of the partly refunded order, not restocked, as an operator reads it; then the refund.
  const rest = ['--reason', 'goodwill'];
  const shown = await bench.ops('what-if', order.id, 'refund', ...rest);
  expect(shown.stdout).toMatch(
    /^ {2}2\. refundAtStripe \(moneyRefunded\): refunds 12\.00 USD at Stripe; idempotency key refund:/m,
  );
  expect(shown.stdout).toContain('the order ends REFUNDED');
  expect(shown.stdout).not.toContain('restockUnits');
  const restPlan = JSON.parse(
    (await bench.ops('what-if', order.id, 'refund', ...rest, '--json')).stdout,
  ) as RefundWhatIf;
  expect(restPlan).toMatchObject({
    amountCents: 1_200,
    lines: [{ productId: product.id, quantity: 1 }],
    endsAs: 'REFUNDED',
  });
  expect((await bench.ops('refund', order.id, ...rest)).code).toBe(0);
  await expectRanAsPlanned(restPlan);
  expect((await bench.orderOf(customer, order.id)).status).toBe('REFUNDED');
  expect(await bench.stockOf(product.id)).toEqual({ available: 19, reserved: 0, sold: 1 });

  // Nothing is left: the dry run refuses as the refund does, with the same code.
  const more = ['--amount', '100', '--reason', 'one more'];
  const refusedDry = await bench.ops('what-if', order.id, 'refund', ...more);
  const refusedReal = await bench.ops('refund', order.id, ...more);
  expect([refusedDry.code, refusedReal.code]).toEqual([1, 1]);
  expect(refusedDry.stdout).toContain('nothing would run: refused, REFUND_EXCEEDS_PAYMENT:');
  expect(refusedReal.stdout).toContain('refused: REFUND_EXCEEDS_PAYMENT:');
  expect(await bench.api.services.refunds.listForOrder(order.id)).toHaveLength(2);
});
