/**
 * The refund saga on a real Temporal dev server with the real services and databases: completed
 * orders refunded in full, in part by lines (with and without restock) and by amount, and a refund
 * Stripe refuses. Each scenario asserts what every service's database holds afterwards, and that
 * the reconciler finds nothing.
 */
import Stripe from 'stripe';
import { randomUUID } from 'node:crypto';
import { CheckoutClient } from '../../temporal/checkout-client';
import { RefundClient, requestRefund, type RefundRequest } from '../../temporal/refund-client';
import { checkoutOf, newProduct } from '../../test/helpers/checkouts';
import type { Services } from '../../services';
import type { TestDatabases } from '../../test/helpers/databases';
import type { RunningWorkers, TestTemporal } from '../../test/helpers/temporal';
import { closeTestBed, openTestBed, startWorkersReplacing } from '../../test/helpers/test-bed';
import { createRefundPaymentsActivities } from '../../activities/refunds.activities';
import { RefundsService } from '../../services/payments/refunds.service';
import { createPaymentsDb } from '../../services/payments/db';
import { reconcile } from '../../reconciler/reconcile';
import { waitUntil } from '../../devstack/waits';
import type { CheckoutInput } from '../contract';

jest.setTimeout(90_000);

let dbs: TestDatabases;
let services: Services;
let temporal: TestTemporal;
let workers: RunningWorkers;
let checkout: CheckoutClient;
let refunds: RefundClient;

beforeAll(async () => {
  ({ dbs, services, temporal } = await openTestBed());
  workers = await startWorkersReplacing({ services, temporal });
  checkout = new CheckoutClient(temporal.client, { deadlineMs: 60_000 });
  refunds = new RefundClient(temporal.client, { deadlineMs: 60_000 });
});

afterAll(async () => {
  await workers?.stop();
  await closeTestBed({ temporal, services, dbs });
});

/** A completed order of 3 units of one product (12.50 each) and 2 of another (4.00 each): 45.50. */
async function completedOrder() {
  const [a, b] = await Promise.all([
    newProduct(services.inventory, 'RF', 10, 1_250),
    newProduct(services.inventory, 'RF', 10, 400),
  ]);
  const input: CheckoutInput = checkoutOf(a, 3, 60, 'refund-customer');
  input.lines.push({ productId: b.id, sku: b.sku, name: b.name, quantity: 2, unitPriceCents: b.priceCents });
  await checkout.place(input);
  await checkout.pay(input.orderId, input.customerId, 'pm_card_visa');
  await waitUntil(
    'the order to complete',
    async () => (await services.orders.get(input.orderId))?.status === 'COMPLETED',
    {
      timeoutMs: 30_000,
      intervalMs: 50,
    },
  );
  return { orderId: input.orderId, customerId: input.customerId, a, b };
}

const refund = (orderId: string, request: Partial<RefundRequest> = {}) =>
  requestRefund(
    { orders: services.orders, refunds: services.refunds, client: refunds },
    { orderId, idempotencyKey: randomUUID(), reason: 'returned', restock: false, requestedBy: 'admin-1', ...request },
  );

async function stockOf(productId: string) {
  const { rows } = await temporalFreeQuery(
    dbs.urls.inventory,
    'SELECT available, reserved, sold FROM products WHERE id = $1',
    [productId],
  );
  return rows[0] as { available: number; reserved: number; sold: number };
}

async function temporalFreeQuery(url: string, sql: string, values: unknown[]) {
  const { Client } = await import('pg');
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query(sql, values);
  } finally {
    await client.end();
  }
}

/** The reconciler over every database: nothing found. */
async function expectNoDrift() {
  const report = await reconcile(dbs.urls, { graceSeconds: 0 });
  expect(report.violations).toEqual([]);
}

/** Waits for the saga's forward steps (restock, order) to finish after the money settled. */
async function refundFinished(refundId: string) {
  await temporal.client.workflow.getHandle(`refund-${refundId}`).result();
}

describe('refund saga', () => {
  it('refunds a whole order: the money back at Stripe, the order REFUNDED, units restocked, the customer told', async () => {
    const { orderId, customerId, a, b } = await completedOrder();
    const { refund: done } = await refund(orderId, { restock: true });
    expect(done).toMatchObject({ status: 'SUCCEEDED', amountCents: 4_550, currency: 'usd', restock: true });
    expect(done.lines).toEqual(
      expect.arrayContaining([
        { productId: a.id, quantity: 3 },
        { productId: b.id, quantity: 2 },
      ]),
    );
    await refundFinished(done.id);
    const order = (await services.orders.get(orderId))!;
    expect(order).toMatchObject({ status: 'REFUNDED', refundedCents: 4_550 });
    expect(order.history.map((h) => h.to)).toEqual(['PENDING', 'AWAITING_PAYMENT', 'PAID', 'COMPLETED', 'REFUNDED']);
    expect(await stockOf(a.id)).toEqual({ available: 10, reserved: 0, sold: 0 });
    expect(await stockOf(b.id)).toEqual({ available: 10, reserved: 0, sold: 0 });
    await waitUntil(
      'the customer to be told',
      async () =>
        (await services.notifications.list(customerId, { limit: 50 })).some((n) => n.type === 'order.refunded'),
      { timeoutMs: 20_000, intervalMs: 100 },
    );
    // Nothing is left: a second refund of anything is refused, and changes nothing.
    await expect(refund(orderId, { amountCents: 1 })).rejects.toMatchObject({ code: 'REFUND_EXCEEDS_PAYMENT' });
    await expectNoDrift();
  });

  it('refunds lines in part, with and without restock: PARTIALLY_REFUNDED, only the restocked units back on sale', async () => {
    const { orderId, a, b } = await completedOrder();
    const first = await refund(orderId, { lines: [{ productId: a.id, quantity: 1 }], restock: true });
    expect(first.refund).toMatchObject({ status: 'SUCCEEDED', amountCents: 1_250 });
    await refundFinished(first.refund.id);
    const second = await refund(orderId, { lines: [{ productId: b.id, quantity: 2 }], restock: false });
    expect(second.refund).toMatchObject({ status: 'SUCCEEDED', amountCents: 800 });
    await refundFinished(second.refund.id);
    expect(await services.orders.get(orderId)).toMatchObject({ status: 'PARTIALLY_REFUNDED', refundedCents: 2_050 });
    expect(await stockOf(a.id)).toEqual({ available: 8, reserved: 0, sold: 2 });
    expect(await stockOf(b.id)).toEqual({ available: 8, reserved: 0, sold: 2 });
    // More units of a line than are left to refund.
    await expect(refund(orderId, { lines: [{ productId: a.id, quantity: 3 }] })).rejects.toMatchObject({
      code: 'REFUND_EXCEEDS_PAYMENT',
    });
    // Everything left: the rest of the money and the units no refund took yet.
    const rest = await refund(orderId, { restock: true });
    expect(rest.refund).toMatchObject({
      status: 'SUCCEEDED',
      amountCents: 2_500,
      lines: [{ productId: a.id, quantity: 2 }],
    });
    await refundFinished(rest.refund.id);
    expect(await services.orders.get(orderId)).toMatchObject({ status: 'REFUNDED', refundedCents: 4_550 });
    expect(await stockOf(a.id)).toEqual({ available: 10, reserved: 0, sold: 0 });
    expect(await services.refunds.listForOrder(orderId)).toHaveLength(3);
    await expectNoDrift();
  });

  it('refunds an amount: no units move, the order PARTIALLY_REFUNDED', async () => {
    const { orderId, a } = await completedOrder();
    const { refund: done } = await refund(orderId, { amountCents: 999 });
    expect(done).toMatchObject({ status: 'SUCCEEDED', amountCents: 999, lines: [] });
    await refundFinished(done.id);
    expect(await services.orders.get(orderId)).toMatchObject({ status: 'PARTIALLY_REFUNDED', refundedCents: 999 });
    expect(await stockOf(a.id)).toEqual({ available: 7, reserved: 0, sold: 3 });
    await expect(refund(orderId, { amountCents: 4_550 - 999 + 1 })).rejects.toMatchObject({
      code: 'REFUND_EXCEEDS_PAYMENT',
    });
    await expectNoDrift();
  });

  it('ends FAILED when Stripe refuses: the money is free again, nothing restocked, the order as it was, the admin told', async () => {
    const { orderId, a } = await completedOrder();
    // The payments service as against Stripe itself, which answers that the charge was refunded already.
    const paymentsDb = createPaymentsDb(dbs.urls.payments);
    const refusing = new RefundsService(paymentsDb, {
      stateless: false,
      stripe: {
        refunds: {
          list: () => ({ async *[Symbol.asyncIterator]() {} }),
          create: async () => {
            throw new Stripe.errors.StripeInvalidRequestError({
              type: 'invalid_request_error',
              code: 'charge_already_refunded',
              message: 'Charge ch_1 has already been refunded.',
            });
          },
        },
      } as unknown as Stripe,
    });
    await workers.stop();
    workers = await startWorkersReplacing(
      { services, temporal },
      { payments: createRefundPaymentsActivities({ refunds: refusing }) },
    );
    try {
      const { refund: failed } = await refund(orderId, { lines: [{ productId: a.id, quantity: 2 }], restock: true });
      expect(failed).toMatchObject({ status: 'FAILED', failure: { code: 'charge_already_refunded' } });
      const state = await temporal.client.workflow.getHandle(`refund-${failed.id}`).result();
      expect(state).toMatchObject({ status: 'FAILED', compensatedSteps: ['refundRecorded'] });
      expect(state.completedSteps).not.toContain('unitsRestocked');
      expect(await services.orders.get(orderId)).toMatchObject({ status: 'COMPLETED', refundedCents: 0 });
      expect(await stockOf(a.id)).toEqual({ available: 7, reserved: 0, sold: 3 });
      await waitUntil(
        'the admin to be told',
        async () =>
          (await services.notifications.list('admin-1', { limit: 50 })).some((n) => n.type === 'refund.failed'),
        { timeoutMs: 20_000, intervalMs: 100 },
      );
      // Its money is free again: the whole order can still be refunded.
      expect((await services.refunds.refundable(orderId))!.refundedCents).toBe(0);
    } finally {
      await workers.stop();
      workers = await startWorkersReplacing({ services, temporal });
      await paymentsDb.$disconnect();
    }
    await expectNoDrift();
  });

  it('waits for Stripe’s webhook when Stripe answers pending, and finishes once it says succeeded', async () => {
    const { orderId } = await completedOrder();
    const paymentsDb = createPaymentsDb(dbs.urls.payments);
    const stripeRefundId = `re_pending_${randomUUID().slice(0, 8)}`;
    const pending = new RefundsService(paymentsDb, {
      stateless: false,
      stripe: {
        refunds: {
          list: () => ({ async *[Symbol.asyncIterator]() {} }),
          create: async () => ({ id: stripeRefundId, object: 'refund', status: 'pending' }),
        },
      } as unknown as Stripe,
    });
    await workers.stop();
    workers = await startWorkersReplacing(
      { services, temporal },
      { payments: createRefundPaymentsActivities({ refunds: pending }) },
    );
    try {
      const { refund: answered } = await refund(orderId, { amountCents: 500 });
      expect(answered).toMatchObject({ status: 'PENDING', stripeRefundId });
      // The order is untouched until Stripe says.
      expect(await services.orders.get(orderId)).toMatchObject({ status: 'COMPLETED', refundedCents: 0 });
      // What the webhook route does with refund.updated: settle the row, wake the saga.
      await services.refunds.settleByStripeId(stripeRefundId, 'succeeded');
      expect(await refunds.relayStripeEvent(answered.id, { eventId: 'evt_1', type: 'refund.updated' })).toBe(true);
      const state = await temporal.client.workflow.getHandle(`refund-${answered.id}`).result();
      expect(state).toMatchObject({ status: 'SUCCEEDED', orderStatus: 'PARTIALLY_REFUNDED' });
      expect(await services.orders.get(orderId)).toMatchObject({ status: 'PARTIALLY_REFUNDED', refundedCents: 500 });
    } finally {
      await workers.stop();
      workers = await startWorkersReplacing({ services, temporal });
      await paymentsDb.$disconnect();
    }
    await expectNoDrift();
  });
});
