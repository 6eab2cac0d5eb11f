/**
 * Updates and signals sent to a waiting checkout with the real Temporal CLI, as anyone with access
 * to Temporal can send them, around the API's own checks: another customer's payment, wrong
 * shapes, NUL bytes, huge strings. Each is refused (an update) or ignored (a signal): nothing is
 * charged or started, the order waits as it did, and its customer can still pay it. Well-formed
 * cancel signals, an operator's tool, do cancel.
 */
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { orderWorkflowId } from '../workflows/contract';
import { waitUntil } from '../devstack/waits';
import { isEventType, useOperatorBench, type HistoryEvent } from './helpers/operator';

jest.setTimeout(120_000);

const ORDER_TTL_SECONDS = 300;
const bench = useOperatorBench(ORDER_TTL_SECONDS);

/** Far past anything the API takes (255 characters for a payment method, 500 for a reason), under Temporal's payload limit. */
const HUGE = 'x'.repeat(200_000);

/** A message's input as the CLI takes it: JSON text (`--input`), a file for what no command line holds, or none. */
type Input = { json: unknown } | { none: true };
const json = (value: unknown): Input => ({ json: value });

/** The CLI's flags for an input: JSON text on the command line, or in a file when it is too long for one. */
function inputFlags(input: Input): string[] {
  if ('none' in input) return [];
  const text = JSON.stringify(input.json);
  if (text.length < 10_000) return ['--input', text];
  const file = path.join(os.tmpdir(), `operator-tier-input-${randomUUID()}.json`);
  writeFileSync(file, text);
  return ['--input-file', file];
}

let product: { id: string };
beforeAll(async () => {
  product = await bench.newProduct(1_000);
});

/** Events after the last one of `type`, once a workflow task has followed it (the workflow has taken the message). */
async function eventsAfterLast(orderId: string, type: string): Promise<HistoryEvent[]> {
  let after: HistoryEvent[] = [];
  await waitUntil(`order ${orderId}'s workflow to take the ${type} event`, async () => {
    const events = await bench.historyOf(orderId);
    let last = -1;
    events.forEach((event, index) => {
      if (isEventType(event, type)) last = index;
    });
    after = events.slice(last + 1);
    return (
      last >= 0 &&
      after.some((event) => isEventType(event, 'WorkflowTaskCompleted') || isEventType(event, 'WorkflowTaskFailed'))
    );
  });
  return after;
}

/** The activities these events schedule, by name. */
const activitiesScheduled = (events: readonly HistoryEvent[]): string[] =>
  events
    .filter((event) => isEventType(event, 'ActivityTaskScheduled'))
    .map((event) => event.activityTaskScheduledEventAttributes?.activityType?.name ?? '?');

/** The order was left as it was, and its customer pays it as if nothing had been sent. */
async function expectStillPayable(customer: string, orderId: string): Promise<void> {
  expect(await bench.api.services.payments.get(orderId)).toBeNull();
  expect(bench.stripe.requests.filter((request) => request.orderId === orderId)).toEqual([]);
  expect((await bench.api.services.orders.get(orderId))!.status).toBe('AWAITING_PAYMENT');
  const paid = await bench.pay(customer, orderId);
  expect({ status: paid.statusCode, body: paid.json() }).toMatchObject({ status: 200 });
  await bench.closed(orderId);
  expect((await bench.orderOf(customer, orderId)).status).toBe('COMPLETED');
  expect(bench.confirmsOf(orderId)).toBe(1);
}

type UpdateCase = [string, 'pay' | 'cancelOrder', (customer: string) => Input];
const REFUSED_UPDATES: UpdateCase[] = [
  ['pay for another customer', 'pay', () => json({ paymentMethod: 'pm_card_visa', customerId: 'someone-else' })],
  ["pay with the customer's id and a NUL", 'pay', (c) => json({ paymentMethod: 'pm_card_visa', customerId: `${c}\0` })],
  ['pay with no input', 'pay', () => ({ none: true })],
  ['pay with null', 'pay', () => json(null)],
  ['pay with a bare string', 'pay', () => json('pm_card_visa')],
  ['pay with no payment method', 'pay', (c) => json({ customerId: c })],
  ['pay with a number for a payment method', 'pay', (c) => json({ customerId: c, paymentMethod: 42 })],
  ['pay with an object for a payment method', 'pay', (c) => json({ customerId: c, paymentMethod: { id: 'pm' } })],
  ['pay with an empty payment method', 'pay', (c) => json({ customerId: c, paymentMethod: '' })],
  ['pay with a NUL in the payment method', 'pay', (c) => json({ customerId: c, paymentMethod: 'pm_card_visa\0' })],
  ['pay with a huge payment method', 'pay', (c) => json({ customerId: c, paymentMethod: `pm_${HUGE}` })],
  ['pay with a card number', 'pay', (c) => json({ customerId: c, paymentMethod: '4242424242424242' })],
  ['pay with text that is not a PaymentMethod id', 'pay', (c) => json({ customerId: c, paymentMethod: 'visa 4242' })],
  ['cancelOrder with null', 'cancelOrder', () => json(null)],
  ['cancelOrder with a number for a reason', 'cancelOrder', () => json({ reason: 42 })],
  ['cancelOrder with a NUL in the reason', 'cancelOrder', () => json({ reason: 'changed my mind\0' })],
  ['cancelOrder with a huge reason', 'cancelOrder', () => json({ reason: HUGE })],
];

it.each(REFUSED_UPDATES)('an update to %s is refused and the order stays payable', async (_, name, input) => {
  const { customer, order } = await bench.placeOrder(product.id);
  const eventsBefore = (await bench.historyOf(order.id)).length;
  const sent = await bench.tryTemporalWorkflow(
    'update',
    'execute',
    '--workflow-id',
    orderWorkflowId(order.id),
    '--name',
    name,
    ...inputFlags(input(customer)),
  );
  // Refused by the workflow's validator, the update left no trace in the history and started nothing.
  const after = (await bench.historyOf(order.id)).slice(eventsBefore);
  expect({
    answer: sent.code === 0 ? 'accepted' : 'refused',
    updatesAccepted: after.filter((event) => isEventType(event, 'WorkflowExecutionUpdateAccepted')).length,
    activitiesStarted: activitiesScheduled(after),
  }).toEqual({ answer: 'refused', updatesAccepted: 0, activitiesStarted: [] });
  await expectStillPayable(customer, order.id);
});

type SignalCase = [string, 'cancel' | 'paymentEvent' | 'operatorAction', Input];
const IGNORED_SIGNALS: SignalCase[] = [
  ['cancel with null', 'cancel', json(null)],
  ['cancel with a number', 'cancel', json(42)],
  ['cancel with a bare string', 'cancel', json('changed my mind')],
  ['cancel with a number for a reason', 'cancel', json({ reason: 42 })],
  ['cancel with a NUL in the reason', 'cancel', json({ reason: 'changed my mind\0' })],
  ['cancel with a huge reason', 'cancel', json({ reason: HUGE })],
  ['paymentEvent with null', 'paymentEvent', json(null)],
  [
    "paymentEvent of another order's PaymentIntent",
    'paymentEvent',
    json({ eventId: 'evt_foreign', type: 'payment_intent.succeeded', paymentIntentId: 'pi_someone_else' }),
  ],
  ['operatorAction on an order that needs no operator', 'operatorAction', json({ action: 'resolve', note: 'x' })],
];

it.each(IGNORED_SIGNALS)('a signal %s is ignored and the order stays payable', async (_, name, input) => {
  const { customer, order } = await bench.placeOrder(product.id);
  await bench.temporalWorkflow(
    'signal',
    '--workflow-id',
    orderWorkflowId(order.id),
    '--name',
    name,
    ...inputFlags(input),
  );
  const after = await eventsAfterLast(order.id, 'WorkflowExecutionSignaled');
  // Taken without failing a workflow task, and without starting anything (an unwind, a charge).
  expect({
    workflowTasksFailed: after.filter((event) => isEventType(event, 'WorkflowTaskFailed')).length,
    activitiesStarted: activitiesScheduled(after),
  }).toEqual({ workflowTasksFailed: 0, activitiesStarted: [] });
  expect((await bench.stateOf(order.id)).status).toBe('AWAITING_PAYMENT');
  await expectStillPayable(customer, order.id);
});

it.each([
  ['with a reason', json({ reason: 'operator: the customer asked by phone' })],
  ['with no reason', json({})],
])('a well-formed cancel signal %s cancels the waiting order and gives its stock back', async (_, input) => {
  const { customer, order } = await bench.placeOrder(product.id);
  await bench.temporalWorkflow(
    'signal',
    '--workflow-id',
    orderWorkflowId(order.id),
    '--name',
    'cancel',
    ...inputFlags(input),
  );
  await bench.closed(order.id);
  expect((await bench.orderOf(customer, order.id)).status).toBe('CANCELLED');
  expect(await bench.api.services.inventory.findReservation(order.id)).toMatchObject({ status: 'RELEASED' });
  expect(await bench.ordersUsed(customer)).toBe(0);
});

it('leaves the reconciler nothing to find after all of these', async () => {
  expect(await bench.reconcile()).toMatchObject({ code: 0, stderr: '' });
});
