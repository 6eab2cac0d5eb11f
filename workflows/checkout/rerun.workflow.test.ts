/**
 * An order id started again after its first run ended: the storefront starts checkouts with
 * REJECT_DUPLICATE, but a client that does not (or a start after the namespace's retention) gets
 * a second run. Found by the chaos run: that run used to fail on the ended order's status and
 * unwind the first run's work (refund a paid order, give its sold stock and quota back). It must
 * answer with the order as it is and leave every service's data alone.
 */
import type { WorkflowExecutionDescription } from '@temporalio/client';
import { orderQuotaKey } from '../../activities/usage-recording';
import { checkoutStartOptions } from '../../temporal/checkout-client';
import type { Services } from '../../services';
import { createPaymentsDb } from '../../services/payments/db';
import { checkoutOf, newProduct } from '../../test/helpers/checkouts';
import type { TestDatabases } from '../../test/helpers/databases';
import type { TestTemporal } from '../../test/helpers/temporal';
import { closeTestBed, openTestBed, realActivities, startWorkersReplacing } from '../../test/helpers/test-bed';
import { repairOrder } from '../../reconciler/repair';
import { waitUntil } from '../../devstack/waits';
import { checkoutWorkflow } from './checkout.workflow';
import {
  cancelUpdate,
  ORDER_STATUS_KEY,
  orderWorkflowId,
  payUpdate,
  placedUpdate,
  type CheckoutInput,
} from '../contract';

jest.setTimeout(60_000);

let dbs: TestDatabases;
let services: Services;
let temporal: TestTemporal;

/** Orders whose createOrder fails for now: their run can be ended before it records them. */
const unrecordable = new Set<string>();

beforeAll(async () => {
  ({ dbs, services, temporal } = await openTestBed());
  const orders = realActivities({ services, temporal }, 'orders');
  await startWorkersReplacing(
    { services, temporal },
    {
      orders: {
        createOrder: async (input: { orderId: string }) => {
          if (unrecordable.has(input.orderId)) throw new Error('The orders database is out of reach (test)');
          return orders.createOrder!(input);
        },
      },
    },
  );
});

// Closing Temporal stops the workers first.
afterAll(() => closeTestBed({ temporal, services, dbs }));

async function newOrder(available = 5): Promise<CheckoutInput> {
  return checkoutOf(await newProduct(services.inventory, 'RERUN', available, 700), 2, 60, 'rerun');
}

/**
 * Starts the first run and waits, as the storefront does, for the workflow itself to say the order
 * awaits payment (the `placed` update). The orders row says AWAITING_PAYMENT a moment before the
 * workflow has taken that activity's result in, and a payment sent in that moment is refused.
 */
async function placeFirstRun(input: CheckoutInput) {
  const handle = await temporal.client.workflow.start(checkoutWorkflow, checkoutStartOptions(input));
  expect((await handle.executeUpdate(placedUpdate)).status).toBe('AWAITING_PAYMENT');
  return handle;
}

/** What the services hold for the order, to compare before and after the second run. */
async function snapshot(input: CheckoutInput) {
  const order = await services.orders.get(input.orderId);
  return {
    order: { status: order?.status, history: order?.history.map((h) => h.to) },
    payment: await services.payments.get(input.orderId),
    reservation: await services.inventory.findReservation(input.orderId),
    stock: await services.inventory.getProduct(input.lines[0]!.productId),
    quota: (await services.quota.getQuota(input.customerId)).resources.find((r) => r.resource === 'orders')?.used,
  };
}

/**
 * Starts the ended order's id again, as a client that does not ask for REJECT_DUPLICATE would, and
 * answers with the order status the second run ends with; a run that parks in NEEDS_ATTENTION
 * instead of ending (what it did before the fix) is answered as such rather than waited for.
 */
async function startAgain(input: CheckoutInput): Promise<string> {
  const handle = await temporal.client.workflow.start(checkoutWorkflow, {
    ...checkoutStartOptions(input),
    workflowIdReusePolicy: 'ALLOW_DUPLICATE',
  });
  let description: WorkflowExecutionDescription | undefined;
  await waitUntil(
    'the second run to end or park',
    async () =>
      (description = await handle.describe()).status.name !== 'RUNNING' ||
      description.typedSearchAttributes.get(ORDER_STATUS_KEY) === 'NEEDS_ATTENTION',
    { timeoutMs: 30_000, intervalMs: 50 },
  );
  return description!.status.name === 'RUNNING' ? 'NEEDS_ATTENTION' : (await handle.result()).status;
}

it('a second run of a completed order answers COMPLETED and refunds, releases and gives back nothing', async () => {
  const input = await newOrder();
  const first = await placeFirstRun(input);
  await first.executeUpdate(payUpdate, { args: [{ paymentMethod: 'pm_card_visa', customerId: input.customerId }] });
  expect((await first.result()).status).toBe('COMPLETED');
  const before = await snapshot(input);
  expect(before).toMatchObject({
    order: { status: 'COMPLETED' },
    payment: { status: 'SUCCEEDED', refunded: false },
    reservation: { status: 'COMMITTED' },
    quota: 1,
  });

  expect(await startAgain(input)).toBe('COMPLETED');
  expect(await snapshot(input)).toEqual(before);
});

it('a second run of a cancelled order answers CANCELLED and changes nothing', async () => {
  const input = await newOrder();
  const first = await placeFirstRun(input);
  await first.executeUpdate(cancelUpdate, { args: [{}] });
  expect((await first.result()).status).toBe('CANCELLED');
  const before = await snapshot(input);
  expect(before).toMatchObject({ reservation: { status: 'RELEASED' }, quota: 0 });

  expect(await startAgain(input)).toBe('CANCELLED');
  expect(await snapshot(input)).toEqual(before);
});

it('a second run of an order refused for quota gives back the unit it took for it', async () => {
  const input = await newOrder();
  // The free plan allows 20 orders a month: use them up, so the first run is refused.
  for (let i = 0; i < 20; i++)
    await services.quota.recordUsage({
      userId: input.customerId,
      resource: 'orders',
      quantity: 1,
      idempotencyKey: `other-${i}`,
    });
  expect((await temporal.client.workflow.execute(checkoutWorkflow, checkoutStartOptions(input))).status).toBe(
    'REJECTED',
  );
  // One of the other orders is cancelled meanwhile: the second run's quota check now succeeds.
  await services.quota.releaseUsage({ userId: input.customerId, idempotencyKey: 'other-0' });

  expect(await startAgain(input)).toBe('REJECTED');
  expect((await services.quota.getQuota(input.customerId)).resources.find((r) => r.resource === 'orders')?.used).toBe(
    19,
  );
  // The second run reserved the stock beside its quota check, and gave it back: none stays held.
  expect(await services.inventory.getProduct(input.lines[0]!.productId)).toMatchObject({ available: 5 });
  expect(await services.inventory.findReservation(input.orderId)).toMatchObject({ status: 'RELEASED' });
  expect(
    await services.quota.releaseUsage({ userId: input.customerId, idempotencyKey: orderQuotaKey(input.orderId) }),
  ).toEqual({ released: false });
});

/** Ends the first run as `temporal workflow terminate` would, leaving the order as the services hold it. */
async function terminateFirstRun(input: CheckoutInput) {
  const first = await placeFirstRun(input);
  await first.terminate('an operator terminated the run');
  return snapshot(input);
}

/** Starts a recovery run of the order (what a reset to the first workflow task and `ops repair` both start). */
async function startRecoveryRun(input: CheckoutInput, ttlSeconds = input.ttlSeconds) {
  return temporal.client.workflow.start(checkoutWorkflow, {
    ...checkoutStartOptions({ ...input, ttlSeconds }),
    workflowIdReusePolicy: 'ALLOW_DUPLICATE',
  });
}

it('a run that finds its order awaiting payment adopts it: the same reservation and deadline, payable once', async () => {
  const input = await newOrder();
  const before = await terminateFirstRun(input);
  expect(before).toMatchObject({ order: { status: 'AWAITING_PAYMENT' }, reservation: { status: 'HELD' }, quota: 1 });
  const { expiresAt } = (await services.orders.get(input.orderId))!;

  // A longer time-to-live in the new run's input must not move the order's own deadline.
  const second = await startRecoveryRun(input, 3_600);
  expect(await second.executeUpdate(placedUpdate)).toMatchObject({
    status: 'AWAITING_PAYMENT',
    expiresAt: expiresAt!.toISOString(),
  });
  expect(await snapshot(input)).toEqual(before);

  const paid = await second.executeUpdate(payUpdate, {
    args: [{ paymentMethod: 'pm_card_visa', customerId: input.customerId }],
  });
  expect(paid.status).toBe('PAID');
  expect((await second.result()).status).toBe('COMPLETED');
  expect(await snapshot(input)).toMatchObject({
    order: { status: 'COMPLETED' },
    payment: { status: 'SUCCEEDED', attempts: [{ attempt: 1, outcome: 'SUCCEEDED' }] },
    reservation: { status: 'COMMITTED' },
    stock: { available: 3 },
    quota: 1,
  });
});

it('a run that finds its order charged but not yet marked paid goes forward without charging again', async () => {
  const input = await newOrder();
  await terminateFirstRun(input);
  // The first run's charge went through at Stripe, and the run ended before it wrote PAID.
  await services.payments.charge({
    orderId: input.orderId,
    amountCents: 1_400,
    currency: input.currency,
    paymentMethod: 'pm_card_visa',
    attempt: 1,
  });

  expect((await (await startRecoveryRun(input)).result()).status).toBe('COMPLETED');
  expect(await snapshot(input)).toMatchObject({
    order: { status: 'COMPLETED', history: ['PENDING', 'AWAITING_PAYMENT', 'PAID', 'COMPLETED'] },
    payment: { status: 'SUCCEEDED', attempts: [{ attempt: 1 }], refunded: false },
    reservation: { status: 'COMMITTED' },
    quota: 1,
  });
});

it('a run that finds its order past its deadline expires it and gives its stock and quota back', async () => {
  const input = { ...(await newOrder()), ttlSeconds: 1 };
  await terminateFirstRun(input);
  const { expiresAt } = (await services.orders.get(input.orderId))!;
  await waitUntil('the order to be past its deadline', async () => Date.now() > expiresAt!.getTime());

  expect((await (await startRecoveryRun(input, 3_600)).result()).status).toBe('EXPIRED');
  expect(await snapshot(input)).toMatchObject({
    order: { status: 'EXPIRED' },
    reservation: { status: 'RELEASED' },
    stock: { available: 5 },
    quota: 0,
  });
});

/**
 * A charge an earlier run sent and whose answer it lost with its end: the payments service holds an
 * attempt with no outcome, and only Stripe knows whether it took the money.
 */
async function recordChargeWithLostAnswer(input: CheckoutInput): Promise<void> {
  const db = createPaymentsDb(dbs.urls.payments);
  try {
    await db.payment.create({
      data: {
        orderId: input.orderId,
        amountCents: 1_400,
        currency: input.currency,
        stripePaymentIntentId: `pi_lost_${input.orderId.slice(0, 8)}`,
        attempts: { create: { attempt: 1, paymentMethod: 'pm_card_visa' } },
      },
    });
  } finally {
    await db.$disconnect();
  }
}

it('a run that adopts an order with a charge attempted gives the money back when the order then expires', async () => {
  const input = { ...(await newOrder()), ttlSeconds: 1 };
  await terminateFirstRun(input);
  await recordChargeWithLostAnswer(input);
  const { expiresAt } = (await services.orders.get(input.orderId))!;
  await waitUntil('the order to be past its deadline', async () => Date.now() > expiresAt!.getTime());

  expect((await (await startRecoveryRun(input)).result()).status).toBe('EXPIRED');
  // The refund-or-cancel undo ran: stripe-mock cannot say whether the unanswered confirm took the
  // money, so it is taken to have, as a charge's answer would have said, and refunded.
  expect(await snapshot(input)).toMatchObject({
    order: { status: 'EXPIRED' },
    payment: { status: 'REFUNDED', refunded: true },
    reservation: { status: 'RELEASED' },
    stock: { available: 5 },
    quota: 0,
  });
});

it("an order whose run ended before recording it is recovered from that run's input: its stock and quota unit come back", async () => {
  const input = await newOrder();
  unrecordable.add(input.orderId);
  const first = await temporal.client.workflow.start(checkoutWorkflow, checkoutStartOptions(input));
  await waitUntil(
    'the stock to be reserved',
    async () => (await services.inventory.findReservation(input.orderId)) !== null,
  );
  await first.terminate('an operator terminated the run');
  expect(await services.orders.get(input.orderId)).toBeNull();
  unrecordable.delete(input.orderId);

  const deps = { temporal: temporal.client, orders: services.orders, payments: services.payments, orderTtlSeconds: 60 };
  expect(await repairOrder(deps, input.orderId)).toMatchObject({ action: 'started' });
  const recovery = temporal.client.workflow.getHandle<typeof checkoutWorkflow>(orderWorkflowId(input.orderId));
  expect(await recovery.executeUpdate(placedUpdate)).toMatchObject({ status: 'AWAITING_PAYMENT' });
  await recovery.executeUpdate(cancelUpdate, { args: [{}] });
  expect((await recovery.result()).status).toBe('CANCELLED');
  expect(await snapshot(input)).toMatchObject({
    order: { status: 'CANCELLED' },
    reservation: { status: 'RELEASED' },
    stock: { available: 5 },
    quota: 0,
  });
});
