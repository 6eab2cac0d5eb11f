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
import type { Services } from '../../services';
import { PaymentsService } from '../../services/payments/payments.service';
import { createPaymentsDb } from '../../services/payments/db';
import { createStripeGateway } from '../../services/payments/stripe-client';
import { checkoutStartOptions } from '../../temporal/checkout-client';
import { checkoutOf, newProduct, reach, refusal } from '../../test/helpers/checkouts';
import type { TestDatabases } from '../../test/helpers/databases';
import { gate, type Gate } from '../../test/helpers/gate';
import { stripeDouble, type StripeDouble } from '../../harness/stripe-double';
import { isConfirm, startStripeProxy, type RecordedRequest, type StripeProxy } from '../../harness/stripe-proxy';
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
/** The payments service in real mode against the Stripe double, for `processing`. */
let stripeLike: { payments: PaymentsService; double: StripeDouble; recorder: StripeProxy; close(): Promise<void> };

beforeAll(async () => {
  recorder = await startStripeProxy({ target: process.env.STRIPE_API_BASE! });
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

const status = (wanted: OrderStatus) => (state: CheckoutState) => state.status === wanted;

/** What reached Stripe about one order (the payments service names the order in every key and in metadata). */
const stripeRequestsFor = (orderId: string, from: RecordedRequest[] = recorder.requests) =>
  from.filter((r) => r.idempotencyKey?.includes(orderId) || r.body.includes(orderId));
const refundsFor = (orderId: string) => stripeRequestsFor(orderId).filter((r) => r.path === '/v1/refunds');

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
    let paidWrites = 0;
    const ordersReal = real('orders');
    await startWorkers({
      orders: {
        setOrderStatus: async (input) => {
          if (input.status === 'PAID' && ++paidWrites <= 11) throw new Error('orders database unreachable');
          return ordersReal.setOrderStatus!(input);
        },
      },
    });
    const order = await startCheckout();
    await reach(order.handle, status('AWAITING_PAYMENT'));
    expect((await order.pay()).status).toBe('PAID');
    expect(await order.handle.result()).toMatchObject({ status: 'COMPLETED', compensatedSteps: [] });
    expect(paidWrites).toBe(12);
    expect(await services.payments.get(order.orderId)).toMatchObject({ status: 'SUCCEEDED', refunded: false });
    expect(refundsFor(order.orderId)).toEqual([]);
    expect(await services.inventory.findReservation(order.orderId)).toMatchObject({ status: 'COMMITTED' });
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
  async function parkedRefund() {
    let refundWorks = false;
    const payments = real('payments');
    await startWorkers({
      inventory: {
        commitStock: async () => {
          throw ApplicationFailure.nonRetryable('The reservation was released by an operator', 'RESERVATION_RELEASED');
        },
      },
      payments: {
        refundPayment: async (input) => {
          if (!refundWorks) throw ApplicationFailure.nonRetryable('Stripe refuses refunds right now', 'STRIPE_REFUSED');
          return payments.refundPayment!(input);
        },
      },
    });
    const order = await startCheckout();
    await reach(order.handle, status('AWAITING_PAYMENT'));
    expect((await order.pay()).status).toBe('NEEDS_ATTENTION');
    expect(await services.orders.get(order.orderId)).toMatchObject({ status: 'NEEDS_ATTENTION' });
    expect(refundsFor(order.orderId)).toEqual([]);
    return { ...order, fix: () => (refundWorks = true) };
  }

  it('parks the order; retry sends exactly one refund', async () => {
    const order = await parkedRefund();
    order.fix();
    await order.handle.signal(operatorActionSignal, { action: 'retry' });
    expect((await order.handle.result()).status).toBe('FAILED');
    expect(refundsFor(order.orderId)).toHaveLength(1);
    expect(await services.payments.get(order.orderId)).toMatchObject({ status: 'REFUNDED' });
  });

  it('parks the order; resolve (done by hand) sends none', async () => {
    const order = await parkedRefund();
    order.fix();
    await order.handle.signal(operatorActionSignal, { action: 'resolve', note: 'refunded in the Stripe dashboard' });
    expect((await order.handle.result()).status).toBe('FAILED');
    expect(refundsFor(order.orderId)).toEqual([]);
    expect(await services.payments.get(order.orderId)).toMatchObject({ status: 'SUCCEEDED' });
  });
});
