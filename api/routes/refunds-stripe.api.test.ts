/**
 * Refunds against Stripe as production meets it: the payments service in its real-Stripe mode, in
 * front of the stateful Stripe double (harness/stripe-double.ts) behind the recording proxy. Stripe
 * keeps the refunds, refuses more than is left, throttles, and loses an answer after it refunded.
 */
import { randomUUID } from 'node:crypto';
import { useApiHarness } from '../../test/helpers/api';
import { newProduct } from '../../test/helpers/checkouts';
import { waitUntil } from '../../devstack/waits';
import { startStripeProxy, type StripeProxy } from '../../harness/stripe-proxy';
import { stripeDouble } from '../../harness/stripe-double';
import { Pool } from 'pg';
import { checkInvariants } from '../../reconciler/invariants';

jest.setTimeout(90_000);

const double = stripeDouble();
let stripe: StripeProxy;
beforeAll(async () => {
  stripe = await startStripeProxy({ target: process.env.STRIPE_API_BASE!, intercept: double.intercept });
});
const api = useApiHarness(undefined, {
  get stripeLikeApiBase() {
    return stripe.url;
  },
});
afterAll(() => stripe?.close());

afterEach(() => {
  double.refundOutcome = undefined;
  double.rateLimited = 0;
});

/** A completed order of 2 units at 15.00, charged through the double. */
async function completedOrder() {
  const userId = `user-${randomUUID().slice(0, 8)}`;
  const product = await newProduct(api.services.inventory, 'RFS', 10, 1_500);
  const placed = await api.as(userId, {
    method: 'POST',
    url: '/v1/orders',
    payload: { items: [{ productId: product.id, quantity: 2 }] },
  });
  const orderId = placed.json<{ id: string }>().id;
  const paid = await api.as(userId, {
    method: 'POST',
    url: `/v1/orders/${orderId}/payment`,
    payload: { paymentMethod: 'pm_card_visa' },
  });
  expect(paid.json()).toMatchObject({ status: expect.stringMatching(/PAID|COMPLETED/) });
  await waitUntil(
    'the order to complete',
    async () => (await api.services.orders.get(orderId))?.status === 'COMPLETED',
    { timeoutMs: 30_000, intervalMs: 50 },
  );
  const intentId = (await api.services.payments.get(orderId))!.paymentIntentId!;
  return { orderId, product, intentId };
}

/** The reconciler over the test's databases, with the refunds the double made as Stripe's list. */
async function reconcileWithStripe() {
  const names = ['inventory', 'orders', 'payments', 'quota'] as const;
  const pools = Object.fromEntries(names.map((n) => [n, new Pool({ connectionString: api.dbs.urls[n], max: 1 })]));
  try {
    return await checkInvariants({
      db: pools as Record<(typeof names)[number], Pool>,
      graceSeconds: 0,
      stripeRefunds: async () =>
        double.refunds.map((r) => ({
          id: r.id,
          amountCents: r.amount,
          created: new Date(0),
          orderId: r.metadata.orderId,
        })),
    });
  } finally {
    await Promise.all(Object.values(pools).map((pool) => pool.end()));
  }
}

const refund = (orderId: string, payload: object) =>
  api.as(
    'stripe-admin',
    { method: 'POST', url: `/v1/orders/${orderId}/refunds`, payload, headers: { 'idempotency-key': randomUUID() } },
    'admin',
  );

const refundPosts = (refundId: string) =>
  stripe.requests.filter(
    (r) => r.method === 'POST' && r.path === '/v1/refunds' && r.idempotencyKey === `refund:${refundId}`,
  );

describe('refunds at a Stripe that keeps state', () => {
  it('refunds once under the refund id’s key, looked up first: through 429s and a lost answer Stripe refunds it once', async () => {
    const { orderId, intentId } = await completedOrder();
    // Stripe throttles the first tries, then refunds and the answer is lost: the retry finds it by its metadata.
    double.rateLimited = 2;
    double.refundOutcome = () => 'succeeded-but-lost';
    const answer = await refund(orderId, { amountCents: 1_000, reason: 'late delivery' });
    expect(answer.statusCode).toBe(201);
    const made = answer.json<{ id: string; status: string }>();
    expect(made.status).toBe('SUCCEEDED');
    expect(double.refunds.filter((r) => r.payment_intent === intentId)).toEqual([
      expect.objectContaining({
        amount: 1_000,
        status: 'succeeded',
        metadata: expect.objectContaining({ refundId: made.id }),
      }),
    ]);
    // Looked up first (twice throttled), then sent; the lost answer was sent again under the same key
    // (Stripe's SDK retries a reset connection once) and Stripe answered it from its books.
    const calls = stripe.requests
      .filter((r) => r.path === '/v1/refunds')
      .map((r) => `${r.method} ${r.status ?? 'lost'}`);
    expect(calls.slice(0, 4)).toEqual(['GET 429', 'GET 429', 'GET 200', 'POST lost']);
    expect(new Set(refundPosts(made.id).map((r) => r.body)).size).toBe(1);
    expect((await api.services.refunds.get(made.id))!.stripeRefundId).toBe(double.refunds.at(-1)!.id);
    await api.temporal.client.workflow.getHandle(`refund-${made.id}`).result();
    expect(await api.services.orders.get(orderId)).toMatchObject({
      status: 'PARTIALLY_REFUNDED',
      refundedCents: 1_000,
    });
    expect((await reconcileWithStripe()).violations).toEqual([]);
  });

  it('ends FAILED when Stripe says the charge was refunded already (refunded in its dashboard): nothing restocked, the order as it was', async () => {
    const { orderId, product, intentId } = await completedOrder();
    // Someone refunded the whole charge in Stripe's dashboard, behind the store's back.
    double.refunds.push({
      id: `re_dashboard_${randomUUID().slice(0, 8)}`,
      object: 'refund',
      status: 'succeeded',
      payment_intent: intentId,
      amount: 3_000,
      currency: 'usd',
      metadata: {},
    });
    const answer = await refund(orderId, {
      lines: [{ productId: product.id, quantity: 1 }],
      restock: true,
      reason: 'broken',
    });
    expect(answer.statusCode).toBe(201);
    expect(answer.json()).toMatchObject({ status: 'FAILED', failure: { code: 'charge_already_refunded' } });
    const refundId = answer.json<{ id: string }>().id;
    await api.temporal.client.workflow.getHandle(`refund-${refundId}`).result();
    expect(await api.services.orders.get(orderId)).toMatchObject({ status: 'COMPLETED', refundedCents: 0 });
    expect((await api.services.inventory.getProduct(product.id))!.available).toBe(8);
    // The reconciler names the refund Stripe made that the store does not know.
    const { violations } = await reconcileWithStripe();
    expect(violations).toEqual([
      expect.objectContaining({
        invariant: 'refunds-consistent',
        key: `refunds-consistent:stripe-refund:${double.refunds.find((r) => r.id.startsWith('re_dashboard'))!.id}`,
      }),
    ]);
  });

  it('waits for the webhook when Stripe answers pending', async () => {
    const { orderId } = await completedOrder();
    double.refundOutcome = () => 'pending';
    const answer = await refund(orderId, { amountCents: 500, reason: 'goodwill' });
    expect(answer.json()).toMatchObject({ status: 'PENDING' });
    const refundId = answer.json<{ id: string }>().id;
    const stripeRefund = double.refunds.at(-1)!;
    stripeRefund.status = 'succeeded';
    await api.services.refunds.settleByStripeId(stripeRefund.id, 'succeeded');
    await api.temporal.client.workflow
      .getHandle(`refund-${refundId}`)
      .signal('refundEvent', { eventId: 'evt_pending', type: 'refund.updated' });
    await api.temporal.client.workflow.getHandle(`refund-${refundId}`).result();
    expect(await api.services.orders.get(orderId)).toMatchObject({ refundedCents: 500 });
  });
});
