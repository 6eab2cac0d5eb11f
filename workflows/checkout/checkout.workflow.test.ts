/**
 * The checkout saga on a real Temporal dev server with the real services and databases.
 * Failures are injected by wrapping single activities (the boundary docs/design.md allows);
 * every scenario asserts what each service's database holds afterwards, not only the
 * workflow's result.
 */
import { ApplicationFailure } from '@temporalio/common';
import { randomUUID } from 'node:crypto';
import { CheckoutClient, checkoutStartOptions } from '../../temporal/checkout-client';
import { checkoutOf, newProduct as newProductIn, reach, refusal } from '../../test/helpers/checkouts';
import type { Services } from '../../services';
import type { TestDatabases } from '../../test/helpers/databases';
import { gate, type Gate } from '../../test/helpers/gate';
import type { RunningWorkers, TestTemporal } from '../../test/helpers/temporal';
import {
  closeTestBed,
  openTestBed,
  realActivities,
  startWorkersReplacing,
  type ActivityOverrides,
} from '../../test/helpers/test-bed';
import { waitUntil } from '../../devstack/waits';
import type { ServiceQueue } from '../../worker/activities-by-queue';
import { checkoutWorkflow } from './checkout.workflow';
import { checkoutStateQuery, cancelUpdate, operatorActionSignal, payUpdate, type CheckoutInput } from '../contract';

jest.setTimeout(60_000);

let dbs: TestDatabases;
let services: Services;
let temporal: TestTemporal;

beforeAll(async () => {
  ({ dbs, services, temporal } = await openTestBed());
});

afterAll(() => closeTestBed({ temporal, services, dbs }));

/** The real activities of one queue, for a replacement that wraps them. */
const real = (queue: ServiceQueue) => realActivities({ services, temporal }, queue);

/** Real activities on every queue, with some replaced by the test. */
const startWorkers = (overrides: ActivityOverrides = {}) => startWorkersReplacing({ services, temporal }, overrides);

/** Workers whose charge waits at its start until the test opens the gate, then charges for real. */
async function startWorkersWithGatedCharge(): Promise<Gate> {
  const charging = gate();
  workers = await startWorkers({ payments: { chargePayment: charging.hold(real('payments').chargePayment!) } });
  return charging;
}

let workers: RunningWorkers | undefined;
afterEach(async () => {
  await workers?.stop();
  workers = undefined;
});

const newProduct = (available: number, priceCents = 1_250) =>
  newProductIn(services.inventory, 'SKU', available, priceCents);

async function startCheckout(options: {
  productId: string;
  quantity: number;
  priceCents?: number;
  ttlSeconds?: number;
  customerId?: string;
}) {
  const product = { id: options.productId, sku: 'sku', name: 'name', priceCents: options.priceCents ?? 1_250 };
  const input = checkoutOf(product, options.quantity, options.ttlSeconds ?? 60, 'user');
  if (options.customerId) input.customerId = options.customerId;
  const handle = await temporal.client.workflow.start(checkoutWorkflow, checkoutStartOptions(input));
  return { orderId: input.orderId, customerId: input.customerId, handle };
}

async function stockOf(productId: string) {
  return (await services.inventory.getProduct(productId))!;
}

describe('checkout saga', () => {
  it('status events get through a notifications outage longer than the old retries, in order, without holding the saga up', async () => {
    // The notifications database refuses every status event until the test ends the outage: the
    // sale finishes meanwhile, and the outage lasts until the first event has failed more often
    // than the old push's five tries allowed.
    const tries = new Map<string, number>();
    let outage = true;
    const happened: string[] = [];
    const notificationsReal = real('notifications');
    const cartReal = real('cart');
    workers = await startWorkers({
      notifications: {
        persistNotification: async (input: { dedupeKey: string }) => {
          tries.set(input.dedupeKey, (tries.get(input.dedupeKey) ?? 0) + 1);
          if (outage) throw new Error('notifications database unreachable');
          happened.push(`persisted ${input.dedupeKey.split(':').pop()}`);
          return notificationsReal.persistNotification!(input);
        },
      },
      cart: {
        clearCart: async (input: unknown) => {
          happened.push('cart cleared');
          return cartReal.clearCart!(input);
        },
      },
    });
    const product = await newProduct(5);
    const { orderId, customerId, handle } = await startCheckout({ productId: product.id, quantity: 1 });
    await reach(handle, 'AWAITING_PAYMENT');
    expect(
      (await handle.executeUpdate(payUpdate, { args: [{ paymentMethod: 'pm_card_visa', customerId }] })).status,
    ).toBe('PAID');
    // The sale went on while no event got through: paid, cart cleared, the order COMPLETED in its
    // database (the workflow itself ends once its events are delivered).
    await waitUntil('the order to complete', async () => (await services.orders.get(orderId))?.status === 'COMPLETED', {
      timeoutMs: 60_000,
    });
    expect(happened).toEqual(['cart cleared']);

    const first = `order:${orderId}:AWAITING_PAYMENT`;
    await waitUntil('the first status event to fail more than five times', async () => (tries.get(first) ?? 0) > 5, {
      timeoutMs: 60_000,
    });
    outage = false;
    expect((await handle.result()).status).toBe('COMPLETED');
    expect(happened).toEqual(['cart cleared', 'persisted AWAITING_PAYMENT', 'persisted PAID', 'persisted COMPLETED']);

    const events = (await services.notifications.list(customerId, { limit: 10 }))
      .filter((n) => n.kind === 'ORDER')
      .reverse();
    expect(events.map((n) => [n.dedupeKey, n.sequence])).toEqual([
      [`order:${orderId}:AWAITING_PAYMENT`, 1],
      [`order:${orderId}:PAID`, 2],
      [`order:${orderId}:COMPLETED`, 3],
    ]);
    // In order: each waited for the one before it, so only the first one felt the outage.
    expect(tries.get(first)).toBeGreaterThan(5);
    expect([tries.get(`order:${orderId}:PAID`), tries.get(`order:${orderId}:COMPLETED`)]).toEqual([1, 1]);
  });

  it('paid: charges once, sells the stock, clears the cart, completes', async () => {
    workers = await startWorkers();
    const product = await newProduct(5);
    const { orderId, customerId, handle } = await startCheckout({ productId: product.id, quantity: 2 });
    await services.cart.setItem(customerId, { productId: product.id, quantity: 3, priceCents: 1_250 });

    await reach(handle, 'AWAITING_PAYMENT');
    const paid = await handle.executeUpdate(payUpdate, { args: [{ paymentMethod: 'pm_card_visa', customerId }] });
    expect(paid.status).toBe('PAID');
    expect(paid.failure).toBeUndefined();
    const result = await handle.result();
    expect(result.status).toBe('COMPLETED');
    expect(result.completedSteps).toEqual([
      'quotaChecked',
      'orderCreated',
      'stockReserved',
      'paymentCharged',
      'stockCommitted',
      'orderPaid',
      'cartCleared',
      'customerNotified',
    ]);

    expect((await services.orders.get(orderId))!.status).toBe('COMPLETED');
    expect((await services.orders.get(orderId))!.history.map((h) => h.to)).toEqual([
      'PENDING',
      'AWAITING_PAYMENT',
      'PAID',
      'COMPLETED',
    ]);
    const payment = await services.payments.get(orderId);
    expect(payment).toMatchObject({ status: 'SUCCEEDED', amountCents: 2_500, refunded: false });
    expect(payment!.attempts).toHaveLength(1);
    expect(await services.inventory.findReservation(orderId)).toMatchObject({ status: 'COMMITTED' });
    expect(await stockOf(product.id)).toMatchObject({ available: 3 });
    expect((await services.cart.get(customerId)).items).toEqual([
      { productId: product.id, quantity: 1, priceCents: 1_250 },
    ]);
    expect((await services.quota.getQuota(customerId)).resources.find((r) => r.resource === 'orders')).toMatchObject({
      used: 1,
    });

    // A second payment of a completed order is refused and charges nothing.
    expect(
      await refusal(handle.executeUpdate(payUpdate, { args: [{ paymentMethod: 'pm_card_visa', customerId }] })),
    ).toBe('WORKFLOW_CLOSED');
    expect((await services.payments.get(orderId))!.attempts).toHaveLength(1);
  });

  it('expired: the durable timer releases the stock and gives the quota back', async () => {
    workers = await startWorkers();
    const product = await newProduct(4);
    const { orderId, customerId, handle } = await startCheckout({ productId: product.id, quantity: 3, ttlSeconds: 1 });
    const result = await handle.result();
    expect(result.status).toBe('EXPIRED');
    // Never charged: no refund-or-cancel undo was registered, so nothing asks Stripe.
    expect(result.compensatedSteps).toEqual(['stockReserved', 'quotaChecked']);
    expect((await services.orders.get(orderId))!.status).toBe('EXPIRED');
    expect(await services.inventory.findReservation(orderId)).toMatchObject({ status: 'RELEASED' });
    expect(await stockOf(product.id)).toMatchObject({ available: 4 });
    expect(await services.payments.get(orderId)).toBeNull();
    expect((await services.quota.getQuota(customerId)).resources.find((r) => r.resource === 'orders')).toMatchObject({
      used: 0,
    });

    expect(
      await refusal(handle.executeUpdate(payUpdate, { args: [{ paymentMethod: 'pm_card_visa', customerId }] })),
    ).toBe('WORKFLOW_CLOSED');
  });

  it('cancelled: before payment, the stock returns', async () => {
    workers = await startWorkers();
    const product = await newProduct(2);
    const { orderId, handle } = await startCheckout({ productId: product.id, quantity: 2 });
    await reach(handle, 'AWAITING_PAYMENT');
    expect(await stockOf(product.id)).toMatchObject({ available: 0 });
    const cancelled = await handle.executeUpdate(cancelUpdate, { args: [{ reason: 'changed my mind' }] });
    expect(cancelled.status).toBe('CANCELLED');
    expect((await services.orders.get(orderId))!.status).toBe('CANCELLED');
    expect(await stockOf(product.id)).toMatchObject({ available: 2 });
  });

  it('out of stock: the order is rejected and nothing stays reserved', async () => {
    workers = await startWorkers();
    const product = await newProduct(1);
    const { orderId, customerId, handle } = await startCheckout({ productId: product.id, quantity: 2 });
    const result = await handle.result();
    expect(result.status).toBe('REJECTED');
    expect(result.failure?.code).toBe('OUT_OF_STOCK');
    expect(await services.orders.get(orderId)).toMatchObject({ status: 'REJECTED', failureCode: 'OUT_OF_STOCK' });
    expect(await services.inventory.findReservation(orderId)).toBeNull();
    expect(await stockOf(product.id)).toMatchObject({ available: 1 });
    expect((await services.quota.getQuota(customerId)).resources.find((r) => r.resource === 'orders')).toMatchObject({
      used: 0,
    });
  });

  it('quota exceeded: the order is rejected and the stock reserved beside the quota check is given back', async () => {
    workers = await startWorkers();
    const product = await newProduct(3);
    const customerId = `user-${randomUUID().slice(0, 8)}`;
    await services.quota.recordUsage({
      userId: customerId,
      resource: 'orders',
      quantity: 20,
      idempotencyKey: 'earlier-orders',
    });
    const { orderId, handle } = await startCheckout({ productId: product.id, quantity: 1, customerId });
    const result = await handle.result();
    expect(result.status).toBe('REJECTED');
    expect(result.failure?.code).toBe('QUOTA_EXCEEDED');
    expect(await services.orders.get(orderId)).toMatchObject({ status: 'REJECTED', failureCode: 'QUOTA_EXCEEDED' });
    // The stock was reserved while the quota was checked, and the unwind gave it back first.
    expect(result.compensatedSteps).toEqual(['stockReserved', 'quotaChecked']);
    expect(await services.inventory.findReservation(orderId)).toMatchObject({ status: 'RELEASED' });
    expect(await stockOf(product.id)).toMatchObject({ available: 3 });
  });

  it('declined, then paid: the order stays payable after a decline', async () => {
    let charges = 0;
    const payments = real('payments');
    workers = await startWorkers({
      payments: {
        async chargePayment(input: { attempt: number }) {
          charges += 1;
          if (input.attempt === 1)
            throw ApplicationFailure.nonRetryable('Your card has insufficient funds.', 'PAYMENT_DECLINED', {
              declineCode: 'insufficient_funds',
            });
          return payments.chargePayment!(input);
        },
      },
    });
    const product = await newProduct(2);
    const { orderId, customerId, handle } = await startCheckout({ productId: product.id, quantity: 1 });
    await reach(handle, 'AWAITING_PAYMENT');
    expect(
      await refusal(
        handle.executeUpdate(payUpdate, { args: [{ paymentMethod: 'pm_card_chargeDeclined', customerId }] }),
      ),
    ).toBe('PAYMENT_DECLINED');
    expect(await handle.query(checkoutStateQuery)).toMatchObject({ status: 'AWAITING_PAYMENT', declinedAttempts: 1 });

    const paid = await handle.executeUpdate(payUpdate, { args: [{ paymentMethod: 'pm_card_visa', customerId }] });
    expect(paid.status).toBe('PAID');
    expect((await handle.result()).status).toBe('COMPLETED');
    expect(charges).toBe(2);
    expect(await services.payments.get(orderId)).toMatchObject({ status: 'SUCCEEDED' });
  });

  it('charged, then a later step fails: the payment is refunded and the stock returns', async () => {
    workers = await startWorkers({
      inventory: {
        async commitStock() {
          throw ApplicationFailure.nonRetryable('The reservation was released by an operator', 'RESERVATION_RELEASED');
        },
      },
    });
    const product = await newProduct(3);
    const { orderId, customerId, handle } = await startCheckout({ productId: product.id, quantity: 2 });
    await reach(handle, 'AWAITING_PAYMENT');
    const outcome = await handle.executeUpdate(payUpdate, { args: [{ paymentMethod: 'pm_card_visa', customerId }] });
    expect(outcome.status).toBe('FAILED');
    expect(outcome.failure?.code).toBe('RESERVATION_RELEASED');
    expect(await services.payments.get(orderId)).toMatchObject({ status: 'REFUNDED', refunded: true });
    expect(await services.orders.get(orderId)).toMatchObject({ status: 'FAILED' });
    expect(await stockOf(product.id)).toMatchObject({ available: 3 });
  });

  it('a compensation that keeps failing parks the order until an operator retries it', async () => {
    let releaseWorks = false;
    const inventory = real('inventory');
    workers = await startWorkers({
      inventory: {
        async releaseStock(input: { orderId: string }) {
          if (!releaseWorks)
            throw ApplicationFailure.nonRetryable('inventory database is read-only', 'STORAGE_READ_ONLY');
          return inventory.releaseStock!(input);
        },
      },
    });
    const product = await newProduct(2);
    const { orderId, handle } = await startCheckout({ productId: product.id, quantity: 2, ttlSeconds: 1 });
    const parked = await reach(handle, 'NEEDS_ATTENTION');
    expect(parked.failure?.code).toBe('COMPENSATION_FAILED');
    expect(await services.orders.get(orderId)).toMatchObject({ status: 'NEEDS_ATTENTION' });
    const described = await handle.describe();
    expect(described.searchAttributes.OrderStatus).toEqual(['NEEDS_ATTENTION']);
    expect(await stockOf(product.id)).toMatchObject({ available: 0 });

    releaseWorks = true;
    await handle.signal(operatorActionSignal, { action: 'retry' });
    const result = await handle.result();
    expect(result.status).toBe('EXPIRED');
    expect(await services.orders.get(orderId)).toMatchObject({ status: 'EXPIRED' });
    expect(await stockOf(product.id)).toMatchObject({ available: 2 });
  });

  it('a forward step that keeps failing parks the paid order to be finished, never undone', async () => {
    let clearWorks = false;
    const cart = real('cart');
    workers = await startWorkers({
      cart: {
        async clearCart(input: unknown) {
          if (!clearWorks) throw ApplicationFailure.nonRetryable('cart database is read-only', 'STORAGE_READ_ONLY');
          return cart.clearCart!(input);
        },
      },
    });
    const product = await newProduct(2);
    const { orderId, customerId, handle } = await startCheckout({ productId: product.id, quantity: 2 });
    await reach(handle, 'AWAITING_PAYMENT');
    await handle.executeUpdate(payUpdate, { args: [{ paymentMethod: 'pm_card_visa', customerId }] });
    const parked = await reach(handle, 'NEEDS_ATTENTION');
    expect(parked.failure).toEqual({
      code: 'FORWARD_STEP_FAILED',
      message: 'cartCleared: cart database is read-only',
    });
    expect(parked.compensatedSteps).toEqual([]);

    clearWorks = true;
    await handle.signal(operatorActionSignal, { action: 'retry' });
    expect((await handle.result()).status).toBe('COMPLETED');
    expect(await services.payments.get(orderId)).toMatchObject({ status: 'SUCCEEDED', refunded: false });
    expect(await stockOf(product.id)).toMatchObject({ available: 0 });
  });

  it('payment racing expiry: a charge in flight when the timer fires wins the race', async () => {
    // The charge is held until the order's time-to-live has passed.
    const charging = await startWorkersWithGatedCharge();
    const product = await newProduct(1);
    const { orderId, customerId, handle } = await startCheckout({ productId: product.id, quantity: 1, ttlSeconds: 2 });
    const awaiting = await reach(handle, 'AWAITING_PAYMENT');
    const payment = handle.executeUpdate(payUpdate, { args: [{ paymentMethod: 'pm_card_visa', customerId }] });
    await charging.started;
    // Hold the charge until the workflow's timer has fired (its expiresAt has passed).
    await waitUntil('the order to be past its expiry', async () => Date.now() > Date.parse(awaiting.expiresAt!) + 500);
    charging.open();
    expect((await payment).status).toBe('PAID');
    expect((await handle.result()).status).toBe('COMPLETED');
    expect(await services.orders.get(orderId)).toMatchObject({ status: 'COMPLETED' });
    expect(await services.inventory.findReservation(orderId)).toMatchObject({ status: 'COMMITTED' });
  });

  it('refuses a payment from another customer, and a second payment while one is in flight', async () => {
    const charging = await startWorkersWithGatedCharge();
    const product = await newProduct(1);
    const { orderId, customerId, handle } = await startCheckout({ productId: product.id, quantity: 1 });
    await reach(handle, 'AWAITING_PAYMENT');
    expect(
      await refusal(
        handle.executeUpdate(payUpdate, { args: [{ paymentMethod: 'pm_card_visa', customerId: 'someone-else' }] }),
      ),
    ).toBe('ORDER_NOT_FOUND');

    const first = handle.executeUpdate(payUpdate, { args: [{ paymentMethod: 'pm_card_visa', customerId }] });
    await charging.started;
    expect(
      await refusal(handle.executeUpdate(payUpdate, { args: [{ paymentMethod: 'pm_card_visa', customerId }] })),
    ).toBe('ORDER_NOT_PAYABLE');
    charging.open();
    expect((await first).status).toBe('PAID');
    expect((await services.payments.get(orderId))!.attempts).toHaveLength(1);
  });
});

describe('the storefront client (update-with-start)', () => {
  function checkoutInput(productId: string, quantity: number): CheckoutInput {
    return {
      orderId: randomUUID(),
      customerId: `user-${randomUUID().slice(0, 8)}`,
      currency: 'usd',
      ttlSeconds: 60,
      lines: [{ productId, sku: 'sku', name: 'name', quantity, unitPriceCents: 1_250 }],
    };
  }

  it('answers placement with the reservation outcome, and a repeated placement joins the same order', async () => {
    workers = await startWorkers();
    const checkout = new CheckoutClient(temporal.client);
    const product = await newProduct(2);
    const input = checkoutInput(product.id, 2);

    const placed = await checkout.place(input);
    expect(placed).toMatchObject({ orderId: input.orderId, status: 'AWAITING_PAYMENT', totalCents: 2_500 });
    expect(await checkout.place(input)).toMatchObject({
      orderId: input.orderId,
      status: 'AWAITING_PAYMENT',
      expiresAt: placed.expiresAt,
    });
    expect((await stockOf(product.id)).available).toBe(0);

    const refused = await checkout.place(checkoutInput(product.id, 1));
    expect(refused).toMatchObject({ status: 'REJECTED', failure: { code: 'OUT_OF_STOCK' } });

    // Once the order has closed, placing it again answers with how it ended and starts nothing.
    await checkout.cancel(input.orderId);
    const again = await checkout.place(input);
    expect(again).toMatchObject({ orderId: input.orderId, status: 'CANCELLED' });
    expect((await stockOf(product.id)).available).toBe(2);
    // Once its run has ended too, Temporal refuses the start (the id is never reused): the run's result answers.
    await temporal.client.workflow.getHandle(checkoutStartOptions(input).workflowId).result();
    expect(await checkout.place(input)).toMatchObject({ orderId: input.orderId, status: 'CANCELLED' });
  });

  it('keeps each payment event once, however often Stripe delivers it', async () => {
    workers = await startWorkers();
    const checkout = new CheckoutClient(temporal.client);
    const product = await newProduct(1);
    const input = checkoutInput(product.id, 1);
    await checkout.place(input);
    const event = { eventId: 'evt_1', type: 'payment_intent.succeeded', paymentIntentId: 'pi_1' };
    await checkout.relayPaymentEvent(input.orderId, event);
    await checkout.relayPaymentEvent(input.orderId, event);
    await checkout.relayPaymentEvent(input.orderId, {
      ...event,
      eventId: 'evt_2',
      type: 'payment_intent.payment_failed',
    });
    const state = (await checkout.state(input.orderId))!;
    expect(state.paymentEvents?.map((e) => e.eventId)).toEqual(['evt_1', 'evt_2']);
    expect(state.status).toBe('AWAITING_PAYMENT');
    await expect(checkout.pay(input.orderId, 'someone-else', 'pm_card_visa')).rejects.toMatchObject({
      code: 'ORDER_NOT_FOUND',
    });
  });
});
