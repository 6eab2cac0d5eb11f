/**
 * Temporal's reset and cancel, as an operator uses them (the real Temporal CLI against the running
 * API and workers): a checkout reset to its first workflow task, its last, or one in the middle,
 * while it waits for payment and after it completed, and a cancellation. After each, the order ends
 * as its customer expects, charged and sold at most once, and the reconciler finds nothing.
 * Terminations are in termination.operator.test.ts, hostile messages in messages.operator.test.ts.
 */
import { waitUntil } from '../devstack/waits';
import { orderWorkflowId } from '../workflows/contract';
import { taskThatScheduled, useOperatorBench, type HistoryEvent } from './helpers/operator';

jest.setTimeout(180_000);

/** Long enough that no order here reaches its deadline on a busy machine: resets are not about expiry. */
const ORDER_TTL_SECONDS = 300;
const bench = useOperatorBench(ORDER_TTL_SECONDS);

/** Where an operator resets to: a --type, or the event id of a workflow task picked from the history. */
type ResetPoint = { type: 'FirstWorkflowTask' | 'LastWorkflowTask' } | { task: (events: HistoryEvent[]) => number };

async function reset(orderId: string, point: ResetPoint): Promise<void> {
  const where =
    'type' in point ? ['--type', point.type] : ['--event-id', String(point.task(await bench.historyOf(orderId)))];
  await bench.temporalWorkflow(
    'reset',
    '--workflow-id',
    orderWorkflowId(orderId),
    ...where,
    '--reason',
    'operator tier: reset after a fix',
    '--yes',
  );
}

const WAITING_RESETS: [string, ResetPoint][] = [
  ['its first workflow task', { type: 'FirstWorkflowTask' }],
  ['its last workflow task', { type: 'LastWorkflowTask' }],
  [
    'the workflow task that records it as awaiting payment',
    { task: (events) => taskThatScheduled(events, 'setOrderStatus') },
  ],
];

it.each(WAITING_RESETS)(
  'a waiting order reset to %s still waits until its own deadline, with one reservation, and is charged once',
  async (_, point) => {
    const { stockOf } = bench;
    const product = await bench.newProduct(10);
    const { customer, order } = await bench.placeOrder(product.id);
    expect(order.status).toBe('AWAITING_PAYMENT');
    const before = await bench.runOf(order.id);

    await reset(order.id, point);
    await waitUntil('the reset run to take the order on', async () => {
      const now = await bench.runOf(order.id);
      if (now.runId === before.runId || now.status !== 'RUNNING') return false;
      return (await bench.stateOf(order.id)).status !== 'PENDING';
    });
    const state = await bench.stateOf(order.id);
    expect(state.status).toBe('AWAITING_PAYMENT');
    // The deadline the customer was given is the one the run keeps: a reset does not extend it.
    expect(Date.parse(state.expiresAt!)).toBe(Date.parse(order.expiresAt));
    expect(await bench.orderOf(customer, order.id)).toMatchObject({
      status: 'AWAITING_PAYMENT',
      expiresAt: order.expiresAt,
    });
    expect(await stockOf(product.id)).toEqual({ available: 7, reserved: 3, sold: 0 });
    expect(await bench.ordersUsed(customer)).toBe(1);

    expect((await bench.pay(customer, order.id)).statusCode).toBe(200);
    await bench.closed(order.id);
    expect((await bench.orderOf(customer, order.id)).status).toBe('COMPLETED');
    expect(await bench.api.services.payments.get(order.id)).toMatchObject({
      status: 'SUCCEEDED',
      attempts: [{ attempt: 1, outcome: 'SUCCEEDED' }],
      refunded: false,
    });
    expect(bench.confirmsOf(order.id)).toBe(1);
    expect(await stockOf(product.id)).toEqual({ available: 7, reserved: 0, sold: 3 });
    expect(await bench.ordersUsed(customer)).toBe(1);
    expect(await bench.reconcile()).toMatchObject({ code: 0, stderr: '' });
  },
);

const COMPLETED_RESETS: [string, ResetPoint][] = [
  ['its first workflow task', { type: 'FirstWorkflowTask' }],
  ['its last workflow task', { type: 'LastWorkflowTask' }],
  ['the workflow task that charges it', { task: (events) => taskThatScheduled(events, 'chargePayment') }],
  ['the workflow task that sells its stock', { task: (events) => taskThatScheduled(events, 'commitStock') }],
];

it.each(COMPLETED_RESETS)(
  'a completed order reset to %s stays completed: charged once, sold once, nothing refunded',
  async (_, point) => {
    const { stockOf } = bench;
    const product = await bench.newProduct(10);
    const { customer, order } = await bench.placeOrder(product.id);
    expect((await bench.pay(customer, order.id)).statusCode).toBe(200);
    await bench.closed(order.id);
    const before = await bench.runOf(order.id);
    expect(before.status).toBe('COMPLETED');

    await reset(order.id, point);
    // The reset run ends, or waits for an operator: either way it says so rather than waiting for the timeout.
    await waitUntil('the reset run to end or park', async () => {
      const now = await bench.runOf(order.id);
      if (now.runId === before.runId) return false;
      return now.status !== 'RUNNING' || (await bench.stateOf(order.id)).status === 'NEEDS_ATTENTION';
    });
    const { status: workflow, failure } = await bench.stateOf(order.id);
    expect({ run: (await bench.runOf(order.id)).status, workflow, failure }).toEqual({
      run: 'COMPLETED',
      workflow: 'COMPLETED',
      failure: undefined,
    });
    expect((await bench.orderOf(customer, order.id)).status).toBe('COMPLETED');
    expect(await bench.api.services.payments.get(order.id)).toMatchObject({ status: 'SUCCEEDED', refunded: false });
    expect(bench.confirmsOf(order.id)).toBe(1);
    expect(await stockOf(product.id)).toEqual({ available: 7, reserved: 0, sold: 3 });
    expect(await bench.ordersUsed(customer)).toBe(1);
    expect(await bench.reconcile()).toMatchObject({ code: 0, stderr: '' });
  },
);

it('a cancel from the Temporal CLI cancels a waiting order and gives its stock back', async () => {
  const product = await bench.newProduct(10);
  const { customer, order } = await bench.placeOrder(product.id);
  await bench.temporalWorkflow('cancel', '--workflow-id', orderWorkflowId(order.id));
  await bench.closed(order.id);
  expect((await bench.orderOf(customer, order.id)).status).toBe('CANCELLED');
  expect(await bench.stockOf(product.id)).toEqual({ available: 10, reserved: 0, sold: 0 });
  expect(await bench.ordersUsed(customer)).toBe(0);
  expect(await bench.reconcile()).toMatchObject({ code: 0, stderr: '' });
});
