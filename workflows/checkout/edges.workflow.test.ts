/**
 * The checkout's edges where money falls through if the saga gets them wrong: cancels and expiry
 * arriving mid-charge, the commit point, Stripe's `processing`, floods and caps, and undos that keep
 * failing. Real dev server, real services; Stripe is stripe-mock behind the recording proxy (or, for
 * `processing`, the recorder's Stripe double in real mode), so every test can count what reached Stripe.
 */
import { ApplicationFailure } from '@temporalio/common';
import { WorkflowUpdateStage } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import type { ServiceQueue } from '../../worker/activities-by-queue';
import { createPaymentsActivities } from '../../activities/payments.activities';
import { openServices, type Services } from '../../services';
import { PaymentsService } from '../../services/payments/payments.service';
import { createPaymentsDb } from '../../services/payments/db';
import { createStripeGateway } from '../../services/payments/stripe-client';
import { checkoutStartOptions } from '../../temporal/checkout-client';
import { checkoutOf, newProduct, reach, refusal } from '../../test/helpers/checkouts';
import type { TestDatabases } from '../../test/helpers/databases';
import { gate, type Gate } from '../../test/helpers/gate';
import { stripeDouble, type StripeDouble } from '../../harness/stripe-double';
import { isConfirm, startStripeProxy, type RecordedRequest, type StripeProxy } from '../../harness/stripe-proxy';
import { startTcpProxy, type TcpProxy } from '../../harness/tcp-proxy';
import type { RunningWorkers, TestTemporal } from '../../test/helpers/temporal';
import {
  closeTestBed,
  openTestBed,
  realActivities,
  startWorkersReplacing,
  type ActivityOverrides,
} from '../../test/helpers/test-bed';
import { waitUntil } from '../../devstack/waits';
import { checkoutWorkflow } from './checkout.workflow';
import {
  cancelUpdate,
  checkoutStateQuery,
  MAX_DECLINED_ATTEMPTS,
  MAX_KEPT_PAYMENT_EVENTS,
  operatorActionSignal,
  paymentEventSignal,
  payUpdate,
  type CheckoutState,
  type OrderStatus,
} from '../contract';

jest.setTimeout(90_000);

let dbs: TestDatabases;
let services: Services;
let temporal: TestTemporal;
let recorder: StripeProxy;
/** Orders whose refunds Stripe refuses (through the recorder) until the test takes them out. */
const refundsRefused = new Set<string>();
/** The payments service in real mode against the Stripe double, for `processing`. */
let stripeLike: { payments: PaymentsService; double: StripeDouble; recorder: StripeProxy; close(): Promise<void> };

beforeAll(async () => {
  recorder = await startStripeProxy({
    target: process.env.STRIPE_API_BASE!,
    intercept: (request) =>
      request.kind === 'refund' && request.orderId && refundsRefused.has(request.orderId) ? REFUND_REFUSED : undefined,
  });
  ({ dbs, services, temporal } = await openTestBed({ stripeApiBase: recorder.url }));
  const double = stripeDouble(() => 'processing');
  const doubleRecorder = await startStripeProxy({ target: process.env.STRIPE_API_BASE!, intercept: double.intercept });
  const db = createPaymentsDb(dbs.urls.payments);
  const gateway = createStripeGateway({
    stripeSecretKey: 'sk_test_123',
    stripeApiBase: doubleRecorder.url,
    stripeLikeApiBase: doubleRecorder.url,
  });
  stripeLike = {
    payments: new PaymentsService(db, gateway),
    double,
    recorder: doubleRecorder,
    close: async () => {
      await db.$disconnect();
      await doubleRecorder.close();
    },
  };
});

afterAll(async () => {
  await stripeLike?.close();
  await recorder?.close();
  await closeTestBed({ temporal, services, dbs });
});

const real = (queue: ServiceQueue) => realActivities({ services, temporal }, queue);

let workers: RunningWorkers | undefined;
async function startWorkers(
  overrides: ActivityOverrides = {},
  queues: Partial<Record<ServiceQueue, object>> = {},
): Promise<void> {
  workers = await startWorkersReplacing({ services, temporal }, overrides, queues);
}
afterEach(async () => {
  await workers?.stop();
  workers = undefined;
});

/** Workers whose `activity` on `queue` waits at its start until the test opens the gate, then runs for real. */
async function startWorkersWithGated(queue: ServiceQueue, activity: string): Promise<Gate> {
  const held = gate();
  await startWorkers({ [queue]: { [activity]: held.hold(real(queue)[activity]!) } });
  return held;
}

/** Workers whose charge waits at its start until the test opens the gate, then charges for real. */
const startWorkersWithGatedCharge = () => startWorkersWithGated('payments', 'chargePayment');

async function startCheckout(options: { available?: number; ttlSeconds?: number } = {}) {
  const product = await newProduct(services.inventory, 'EDGE', options.available ?? 3, 1_250);
  const input = checkoutOf(product, 2, options.ttlSeconds ?? 60, 'edge');
  const { orderId, customerId } = input;
  const handle = await temporal.client.workflow.start(checkoutWorkflow, checkoutStartOptions(input));
  const pay = (paymentMethod = 'pm_card_visa') =>
    handle.executeUpdate(payUpdate, { args: [{ paymentMethod, customerId }] });
  return {
    orderId,
    customerId,
    handle,
    pay,
    product,
    stock: async () => (await services.inventory.getProduct(product.id))!.available,
  };
}

/** Stripe refusing a refund (the charge is disputed): the payments service gets Stripe's own error. */
const REFUND_REFUSED = {
  status: 400,
  body: {
    error: {
      type: 'invalid_request_error',
      code: 'charge_disputed',
      message: 'This charge has been disputed and cannot be refunded right now.',
    },
  },
};

/** The services (all on the test's databases) with the orders database reached through a proxy the test can cut. */
async function servicesWithOrdersBehindProxy(): Promise<{ services: Services; proxy: TcpProxy }> {
  const url = new URL(dbs.urls.orders);
  const proxy = await startTcpProxy({ host: url.hostname, port: Number(url.port || 5432) });
  url.host = proxy.address;
  return {
    proxy,
    services: openServices(
      { ...dbs.urls, orders: url.toString() },
      { stripeSecretKey: undefined, stripeApiBase: recorder.url },
    ),
  };
}

/** The attempt the workflow's pending activity of this type is on (0 while none is pending). */
async function pendingAttempt(handle: { describe(): Promise<{ raw: { pendingActivities?: unknown } }> }, type: string) {
  const pending = ((await handle.describe()).raw.pendingActivities ?? []) as {
    activityType?: { name?: string | null } | null;
    attempt?: number | null;
  }[];
  return pending.find((activity) => activity.activityType?.name === type)?.attempt ?? 0;
}

const status = (wanted: OrderStatus) => (state: CheckoutState) => state.status === wanted;

/** What reached Stripe about one order (the payments service names the order in every key and in metadata). */
const stripeRequestsFor = (orderId: string, from: RecordedRequest[] = recorder.requests) =>
  from.filter((r) => r.idempotencyKey?.includes(orderId) || r.body.includes(orderId));
const refundsFor = (orderId: string) => stripeRequestsFor(orderId).filter((r) => r.path === '/v1/refunds');
/** The refunds Stripe made (answered 200), as opposed to the ones it refused. */
const refundsMadeFor = (orderId: string) => refundsFor(orderId).filter((r) => r.status === 200);

/** Waits until the workflow's own clock is past the order's expiresAt (the event under test is time passing). */
async function pastExpiry(state: CheckoutState): Promise<void> {
  await waitUntil('the order to be past its expiry', async () => Date.now() > Date.parse(state.expiresAt!) + 300);
}

/** A checkout whose payment has begun and is held at the start of its charge: the moment these tests act in. */
async function paymentHeldAtCharge(options: { ttlSeconds?: number } = {}) {
  const charging = await startWorkersWithGatedCharge();
  const order = await startCheckout(options);
  const awaiting = await reach(order.handle, status('AWAITING_PAYMENT'));
  const payment = order.pay();
  await charging.started;
  return { charging, order, awaiting, payment };
}

describe('a cancel or the deadline during a charge waits for its outcome', () => {
  it('workflow cancellation during a charge that succeeds: the charge ends, then it is refunded and the order CANCELLED', async () => {
    const { charging, order, payment } = await paymentHeldAtCharge();
    await order.handle.cancel();
    charging.open();
    expect((await payment).status).toBe('CANCELLED');
    const result = await order.handle.result();
    expect(result).toMatchObject({
      status: 'CANCELLED',
      compensatedSteps: ['paymentCharged', 'stockReserved', 'quotaChecked'],
    });
    expect(await services.payments.get(order.orderId)).toMatchObject({ status: 'REFUNDED', refunded: true });
    expect(refundsFor(order.orderId)).toHaveLength(1);
    expect(await order.stock()).toBe(3);
  });

  it('workflow cancellation of an order never charged: CANCELLED, nothing asked of Stripe', async () => {
    await startWorkers();
    const order = await startCheckout();
    await reach(order.handle, status('AWAITING_PAYMENT'));
    await order.handle.cancel();
    expect(await order.handle.result()).toMatchObject({
      status: 'CANCELLED',
      compensatedSteps: ['stockReserved', 'quotaChecked'],
    });
    expect(await services.payments.get(order.orderId)).toBeNull();
    expect(stripeRequestsFor(order.orderId)).toEqual([]);
    expect(await order.stock()).toBe(3);
  });

  it('a cancel update during a charge is accepted, waits for the charge, and then refunds it', async () => {
    const { charging, order, payment } = await paymentHeldAtCharge();
    const cancel = await order.handle.startUpdate(cancelUpdate, {
      args: [{ reason: 'changed my mind' }],
      waitForStage: WorkflowUpdateStage.ACCEPTED,
    });
    charging.open();
    expect((await cancel.result()).status).toBe('CANCELLED');
    expect((await payment).status).toBe('CANCELLED');
    expect(await services.payments.get(order.orderId)).toMatchObject({ status: 'REFUNDED' });
    expect(await services.orders.get(order.orderId)).toMatchObject({ status: 'CANCELLED' });
  });

  it('the deadline passing during a charge that is declined: the answer is the decline, then the order expires', async () => {
    const charging = gate();
    await startWorkers({
      payments: {
        chargePayment: async () => {
          await charging.pass();
          throw ApplicationFailure.nonRetryable('Your card was declined.', 'PAYMENT_DECLINED', {
            declineCode: 'generic_decline',
          });
        },
      },
    });
    const order = await startCheckout({ ttlSeconds: 2 });
    const awaiting = await reach(order.handle, status('AWAITING_PAYMENT'));
    const payment = order.pay();
    await charging.started;
    await pastExpiry(awaiting);
    charging.open();
    expect(await refusal(payment)).toBe('PAYMENT_DECLINED');
    expect((await order.handle.result()).status).toBe('EXPIRED');
    expect(refundsFor(order.orderId)).toEqual([]);
    expect(await order.stock()).toBe(3);
  });

  it('payment racing expiry, read from the history: the payment was accepted before the deadline, the timer was cancelled, never fired, and the charge finished after expiresAt', async () => {
    const { charging, order, awaiting, payment } = await paymentHeldAtCharge({ ttlSeconds: 2 });
    await pastExpiry(awaiting);
    charging.open();
    expect((await payment).status).toBe('PAID');
    expect((await order.handle.result()).status).toBe('COMPLETED');

    const events = (await order.handle.fetchHistory()).events ?? [];
    type HistoryEvent = (typeof events)[number];
    const index = (found: (e: HistoryEvent) => unknown) => events.findIndex(found);
    const accepted = index(
      (e) => e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name === 'pay',
    );
    const chargeScheduled = index(
      (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'chargePayment',
    );
    const chargeCompleted = index(
      (e) =>
        Number(e.activityTaskCompletedEventAttributes?.scheduledEventId ?? -1) ===
        Number(events[chargeScheduled]!.eventId),
    );
    const timerCancelled = index((e) => e.timerCanceledEventAttributes);
    expect(accepted).toBeGreaterThan(0);
    expect(accepted).toBeLessThan(chargeScheduled);
    expect(timerCancelled).toBeGreaterThan(accepted);
    expect(timerCancelled).toBeLessThan(chargeCompleted);
    expect(index((e) => e.timerFiredEventAttributes)).toBe(-1);
    const seconds = (e: HistoryEvent) =>
      Number(e.eventTime!.seconds) * 1000 + Math.floor((e.eventTime!.nanos ?? 0) / 1e6);
    expect(seconds(events[accepted]!)).toBeLessThan(Date.parse(awaiting.expiresAt!));
    expect(seconds(events[chargeCompleted]!)).toBeGreaterThan(Date.parse(awaiting.expiresAt!));
  });
});

describe('the commit point', () => {
  it('a slow cart clear does not hold up the payment answer', async () => {
    const clearing = await startWorkersWithGated('cart', 'clearCart');
    const order = await startCheckout();
    await reach(order.handle, status('AWAITING_PAYMENT'));
    const paid = order.pay();
    await clearing.started;
    expect((await paid).status).toBe('PAID'); // answered while the cart clear is still held
    clearing.open();
    expect((await order.handle.result()).status).toBe('COMPLETED');
  });

  it('the orders database down after the stock is sold, past the old retries: the order still completes, nothing is refunded', async () => {
    // The orders database cut for real (a TCP proxy before it resets every connection), not an activity that throws.
    const behind = await servicesWithOrdersBehindProxy();
    try {
      workers = await startWorkersReplacing({ services: behind.services, temporal });
      const order = await startCheckout();
      await reach(order.handle, status('AWAITING_PAYMENT'));
      behind.proxy.cut();
      let answered = false;
      const paying = order.pay().finally(() => (answered = true));
      // The charge and the sale go through (their own databases); the PAID write fails until the
      // database is back: kept down past the 10 attempts a step used to get (or until the payment
      // is answered, which it must not be before PAID is written).
      await waitUntil(
        'the PAID write to fail 11 times',
        async () => answered || (await pendingAttempt(order.handle, 'setOrderStatus')) >= 12,
        { timeoutMs: 60_000, intervalMs: 200 },
      );
      expect(await services.inventory.findReservation(order.orderId)).toMatchObject({ status: 'COMMITTED' });
      expect(behind.proxy.refused).toBeGreaterThan(0);
      behind.proxy.restore();
      expect((await paying).status).toBe('PAID');
      expect(await order.handle.result()).toMatchObject({ status: 'COMPLETED', compensatedSteps: [] });
      expect(await services.orders.get(order.orderId)).toMatchObject({ status: 'COMPLETED' });
      expect(await services.payments.get(order.orderId)).toMatchObject({ status: 'SUCCEEDED', refunded: false });
      expect(refundsFor(order.orderId)).toEqual([]);
      expect(await services.inventory.findReservation(order.orderId)).toMatchObject({ status: 'COMMITTED' });
    } finally {
      await workers?.stop();
      workers = undefined;
      behind.proxy.restore();
      await behind.services.close();
      await behind.proxy.close();
    }
  });

  it('an expired order that was never charged makes no Stripe request at all', async () => {
    await startWorkers();
    const order = await startCheckout({ ttlSeconds: 1 });
    expect((await order.handle.result()).status).toBe('EXPIRED');
    expect(stripeRequestsFor(order.orderId)).toEqual([]);
    expect(await services.payments.get(order.orderId)).toBeNull();
  });
});

describe('bounds', () => {
  it('a webhook flood keeps each event once and no more than the cap; the rest is counted', async () => {
    await startWorkers();
    const order = await startCheckout();
    await reach(order.handle, status('AWAITING_PAYMENT'));
    for (let i = 0; i < 100; i++)
      await order.handle.signal(paymentEventSignal, {
        eventId: `evt_${i % 60}`,
        type: 'charge.updated',
        paymentIntentId: 'pi_x',
      });
    const state = await order.handle.query(checkoutStateQuery);
    expect(state.paymentEvents).toHaveLength(MAX_KEPT_PAYMENT_EVENTS);
    expect(new Set(state.paymentEvents!.map((e) => e.eventId)).size).toBe(MAX_KEPT_PAYMENT_EVENTS);
    // 60 distinct events, 40 of them repeated: repeats of a kept event are dropped, the rest counted.
    expect(state.paymentEventsBeyondCap).toBe(100 - MAX_KEPT_PAYMENT_EVENTS - MAX_KEPT_PAYMENT_EVENTS);
    await order.handle.executeUpdate(cancelUpdate, { args: [{}] });
  });

  it(`after ${MAX_DECLINED_ATTEMPTS} declined attempts the order ends with its own code and its stock returns`, async () => {
    let charges = 0;
    await startWorkers({
      payments: {
        chargePayment: async () => {
          charges += 1;
          throw ApplicationFailure.nonRetryable('Your card was declined.', 'PAYMENT_DECLINED', {
            declineCode: 'generic_decline',
          });
        },
      },
    });
    const order = await startCheckout();
    await reach(order.handle, status('AWAITING_PAYMENT'));
    for (let attempt = 1; attempt < MAX_DECLINED_ATTEMPTS; attempt++)
      expect(await refusal(order.pay('pm_card_chargeDeclined'))).toBe('PAYMENT_DECLINED');
    expect(await refusal(order.pay('pm_card_chargeDeclined'))).toBe('PAYMENT_ATTEMPTS_EXHAUSTED');
    expect(await order.handle.result()).toMatchObject({
      status: 'FAILED',
      declinedAttempts: MAX_DECLINED_ATTEMPTS,
      failure: { code: 'PAYMENT_ATTEMPTS_EXHAUSTED' },
    });
    expect(charges).toBe(MAX_DECLINED_ATTEMPTS);
    expect(await services.orders.get(order.orderId)).toMatchObject({
      status: 'FAILED',
      failureCode: 'PAYMENT_ATTEMPTS_EXHAUSTED',
    });
    expect(await order.stock()).toBe(3);
  });
});

describe('Stripe answers processing (real mode, the Stripe double)', () => {
  const stripeLikePayments = () => ({ payments: createPaymentsActivities({ payments: stripeLike.payments }) });

  async function processingOrder() {
    await startWorkers({}, stripeLikePayments());
    const order = await startCheckout();
    await reach(order.handle, status('AWAITING_PAYMENT'));
    const payment = order.pay();
    const { paymentIntentId } = await reach(order.handle, (state) => state.paymentIntentId !== undefined);
    return { ...order, payment, paymentIntentId: paymentIntentId! };
  }

  it('processing, then the webhook says succeeded: PAID, one confirm', async () => {
    const order = await processingOrder();
    expect((await order.handle.query(checkoutStateQuery)).status).toBe('AWAITING_PAYMENT');
    stripeLike.double.intents.get(order.paymentIntentId)!.status = 'succeeded';
    await order.handle.signal(paymentEventSignal, {
      eventId: `evt_${randomUUID()}`,
      type: 'payment_intent.succeeded',
      paymentIntentId: order.paymentIntentId,
    });
    expect((await order.payment).status).toBe('PAID');
    expect((await order.handle.result()).status).toBe('COMPLETED');
    expect(await stripeLike.payments.get(order.orderId)).toMatchObject({ status: 'SUCCEEDED' });
    expect(stripeRequestsFor(order.orderId, stripeLike.recorder.requests).filter(isConfirm)).toHaveLength(1);
  });

  it('processing, then the webhook says failed: declined, still payable; a cancel then cancels the intent, no refund', async () => {
    const order = await processingOrder();
    stripeLike.double.intents.get(order.paymentIntentId)!.status = 'requires_payment_method';
    await order.handle.signal(paymentEventSignal, {
      eventId: `evt_${randomUUID()}`,
      type: 'payment_intent.payment_failed',
      paymentIntentId: order.paymentIntentId,
    });
    expect(await refusal(order.payment)).toBe('PAYMENT_DECLINED');
    expect(await order.handle.query(checkoutStateQuery)).toMatchObject({
      status: 'AWAITING_PAYMENT',
      declinedAttempts: 1,
    });
    expect((await order.handle.executeUpdate(cancelUpdate, { args: [{}] })).status).toBe('CANCELLED');
    expect(await stripeLike.payments.get(order.orderId)).toMatchObject({ status: 'CANCELED', refunded: false });
    expect(
      stripeLike.recorder.requests.filter((r) => r.path === '/v1/refunds' && r.body.includes(order.orderId)),
    ).toEqual([]);
  });
});

describe('an undo that keeps failing', () => {
  /**
   * Two orders parked at once (each waits out the refund's whole retry policy, about 45 s): an
   * operator released their reservations, so the sale fails for real (RESERVATION_RELEASED), and
   * Stripe refuses their refunds through the recorder until the test takes them out, so the refund
   * runs out of its retries for real.
   */
  let parked: [Awaited<ReturnType<typeof parkedRefund>>, Awaited<ReturnType<typeof parkedRefund>>];
  beforeAll(async () => {
    await startWorkers();
    parked = await Promise.all([parkedRefund(), parkedRefund()]);
  }, 180_000);
  // The file's afterEach stops the workers after each test; the parked orders wait for the next ones.
  beforeEach(async () => {
    if (!workers) await startWorkers();
  });

  async function parkedRefund() {
    const order = await startCheckout();
    await reach(order.handle, status('AWAITING_PAYMENT'));
    refundsRefused.add(order.orderId);
    expect(await services.inventory.release(order.orderId)).toMatchObject({ status: 'RELEASED' });
    expect((await order.pay()).status).toBe('NEEDS_ATTENTION');
    expect(await services.orders.get(order.orderId)).toMatchObject({ status: 'NEEDS_ATTENTION' });
    expect(await order.handle.query(checkoutStateQuery)).toMatchObject({
      status: 'NEEDS_ATTENTION',
      failure: { message: expect.stringContaining('cannot be refunded right now') },
    });
    // Every try of the refund reached Stripe under the one key, and every one was refused: no refund made.
    const tries = refundsFor(order.orderId);
    expect(tries.length).toBeGreaterThanOrEqual(10);
    expect(new Set(tries.map((r) => r.idempotencyKey))).toEqual(new Set([`order:${order.orderId}:refund`]));
    expect(refundsMadeFor(order.orderId)).toEqual([]);
    expect(await services.payments.get(order.orderId)).toMatchObject({ status: 'SUCCEEDED', refunded: false });
    return { ...order, fix: () => refundsRefused.delete(order.orderId) };
  }

  it('parks the order once the refund has run out of its retries; retry sends exactly one refund', async () => {
    const order = parked[0];
    order.fix();
    await order.handle.signal(operatorActionSignal, { action: 'retry' });
    expect((await order.handle.result()).status).toBe('FAILED');
    expect(refundsMadeFor(order.orderId)).toHaveLength(1);
    expect(await services.payments.get(order.orderId)).toMatchObject({ status: 'REFUNDED', refunded: true });
    expect(await services.orders.get(order.orderId)).toMatchObject({ status: 'FAILED' });
    expect(await order.stock()).toBe(3);
  });

  it('parks the order; resolve (done by hand) sends none', async () => {
    const order = parked[1];
    order.fix();
    await order.handle.signal(operatorActionSignal, { action: 'resolve', note: 'refunded in the Stripe dashboard' });
    expect((await order.handle.result()).status).toBe('FAILED');
    expect(refundsMadeFor(order.orderId)).toEqual([]);
    expect(await services.payments.get(order.orderId)).toMatchObject({ status: 'SUCCEEDED' });
    expect(await services.orders.get(order.orderId)).toMatchObject({ status: 'FAILED' });
    expect(await order.stock()).toBe(3);
  });
});
