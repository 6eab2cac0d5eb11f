/**
 * Refunds after the sale through the API, on real services, databases and Temporal workers: who may
 * refund, what is refused before anything runs, Idempotency-Key, refunds racing for the same money,
 * and the order's refundedCents and refunds as its customer reads them.
 */
import { randomUUID } from 'node:crypto';
import { TEST_SETTINGS, useApiHarness } from '../../test/helpers/api';
import { signStripePayload } from '../../services/payments/webhooks';
import { newProduct } from '../../test/helpers/checkouts';
import { waitUntil } from '../../devstack/waits';
import { reconcile } from '../../reconciler/reconcile';

jest.setTimeout(90_000);

const api = useApiHarness();
const ADMIN = 'refund-admin';

const newUser = () => `user-${randomUUID().slice(0, 8)}`;

/** A completed order of 2 units at 15.00: 30.00. */
async function completedOrder() {
  const userId = newUser();
  const product = await newProduct(api.services.inventory, 'RFA', 10, 1_500);
  const placed = await api.as(userId, {
    method: 'POST',
    url: '/v1/orders',
    payload: { items: [{ productId: product.id, quantity: 2 }] },
  });
  expect(placed.statusCode).toBe(201);
  const orderId = placed.json<{ id: string }>().id;
  const paid = await api.as(userId, {
    method: 'POST',
    url: `/v1/orders/${orderId}/payment`,
    payload: { paymentMethod: 'pm_card_visa' },
  });
  expect(paid.statusCode).toBe(200);
  await waitUntil(
    'the order to complete',
    async () => (await api.services.orders.get(orderId))?.status === 'COMPLETED',
    { timeoutMs: 30_000, intervalMs: 50 },
  );
  return { userId, orderId, product };
}

function refund(orderId: string, payload: object, key: string | null = randomUUID(), userId = ADMIN) {
  return api.as(
    userId,
    {
      method: 'POST',
      url: `/v1/orders/${orderId}/refunds`,
      payload,
      headers: key ? { 'idempotency-key': key } : {},
    },
    userId === ADMIN ? 'admin' : 'user',
  );
}

describe('POST /v1/orders/:id/refunds', () => {
  it('is for admins: a customer, even the order’s own, gets 403 and nothing changes', async () => {
    const { userId, orderId } = await completedOrder();
    const before = await api.snapshot();
    const answer = await refund(orderId, { reason: 'mine' }, randomUUID(), userId);
    expect(answer.statusCode).toBe(403);
    expect(answer.json()).toMatchObject({ error: { code: 'FORBIDDEN' } });
    expect(await api.snapshot()).toEqual(before);
  });

  it('refuses a malformed request before anything runs', async () => {
    const { orderId, product } = await completedOrder();
    await api.settled(orderId);
    const before = await api.snapshot();
    const missingKey = await refund(orderId, { reason: 'x' }, null);
    expect(missingKey.statusCode).toBe(400);
    const both = await refund(orderId, {
      reason: 'x',
      amountCents: 100,
      lines: [{ productId: product.id, quantity: 1 }],
    });
    expect(both.statusCode).toBe(400);
    expect(both.json()).toMatchObject({ error: { code: 'VALIDATION_FAILED' } });
    const nul = await refund(orderId, { reason: 'bad\u0000reason' });
    expect(nul.statusCode).toBe(400);
    expect(nul.json()).toMatchObject({ error: { code: 'UNSTORABLE_TEXT' } });
    const unknown = await refund(randomUUID(), { reason: 'x' });
    expect(unknown.statusCode).toBe(404);
    expect(await api.snapshot()).toEqual(before);
  });

  it('answers 409 ORDER_NOT_REFUNDABLE for an order that was never paid', async () => {
    const userId = newUser();
    const product = await newProduct(api.services.inventory, 'RFA', 5, 1_500);
    const placed = await api.as(userId, {
      method: 'POST',
      url: '/v1/orders',
      payload: { items: [{ productId: product.id, quantity: 1 }] },
    });
    const orderId = placed.json<{ id: string }>().id;
    const answer = await refund(orderId, { reason: 'never paid' });
    expect(answer.statusCode).toBe(409);
    expect(answer.json()).toMatchObject({ error: { code: 'ORDER_NOT_REFUNDABLE' } });
  });

  it('answers the same refund for the same key, 422 IDEMPOTENCY_KEY_REUSED for another body, 422 past what is left', async () => {
    const { userId, orderId, product } = await completedOrder();
    const key = randomUUID();
    const body = { lines: [{ productId: product.id, quantity: 1 }], reason: 'broken', restock: true };
    const first = await refund(orderId, body, key);
    expect(first.statusCode).toBe(201);
    expect(first.json()).toMatchObject({
      orderId,
      status: 'SUCCEEDED',
      amountCents: 1_500,
      currency: 'usd',
      lines: [{ productId: product.id, quantity: 1 }],
      restock: true,
      reason: 'broken',
    });
    const again = await refund(orderId, body, key);
    expect(again.statusCode).toBe(201);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.json()).toEqual(first.json());
    const other = await refund(orderId, { ...body, reason: 'something else' }, key);
    expect(other.statusCode).toBe(422);
    expect(other.json()).toMatchObject({ error: { code: 'IDEMPOTENCY_KEY_REUSED' } });
    const tooMuch = await refund(orderId, { amountCents: 1_501, reason: 'too much' });
    expect(tooMuch.statusCode).toBe(422);
    expect(tooMuch.json()).toMatchObject({ error: { code: 'REFUND_EXCEEDS_PAYMENT' } });

    // The customer sees it on the order, once the saga has recorded it there.
    await temporalResult(first.json<{ id: string }>().id);
    const read = await api.as(userId, { method: 'GET', url: `/v1/orders/${orderId}` });
    expect(read.json()).toMatchObject({
      status: 'PARTIALLY_REFUNDED',
      refundedCents: 1_500,
      refunds: [{ id: first.json<{ id: string }>().id, status: 'SUCCEEDED', amountCents: 1_500 }],
    });
  });

  it('lets one of two refunds racing for the same money win; the other is refused and nothing is refunded twice', async () => {
    const { orderId } = await completedOrder();
    const answers = await Promise.all([
      refund(orderId, { amountCents: 2_000, reason: 'race a' }),
      refund(orderId, { amountCents: 2_000, reason: 'race b' }),
    ]);
    expect(answers.map((a) => a.statusCode).sort()).toEqual([201, 422]);
    expect(answers.find((a) => a.statusCode === 422)!.json()).toMatchObject({
      error: { code: 'REFUND_EXCEEDS_PAYMENT' },
    });
    const winner = answers.find((a) => a.statusCode === 201)!.json<{ id: string }>();
    await temporalResult(winner.id);
    const recorded = await api.services.refunds.listForOrder(orderId);
    expect(recorded.filter((r) => r.status !== 'FAILED').map((r) => r.amountCents)).toEqual([2_000]);
    expect(await api.services.orders.get(orderId)).toMatchObject({
      status: 'PARTIALLY_REFUNDED',
      refundedCents: 2_000,
    });
    expect((await reconcile(api.dbs.urls, { graceSeconds: 0 })).violations).toEqual([]);
  });
});

describe("Stripe's refund webhooks", () => {
  /** A refund Stripe answered `pending` (recorded as the saga records it, without a saga to wake). */
  async function pendingRefund(stripeRefundId: string) {
    const { orderId, product } = await completedOrder();
    const refundId = randomUUID();
    await api.services.refunds.record({
      refundId,
      orderId,
      amountCents: 1_500,
      currency: 'usd',
      lines: [{ productId: product.id, quantity: 1 }],
      soldUnits: [{ productId: product.id, quantity: 2 }],
      restock: false,
      reason: 'pending at Stripe',
      requestHash: 'h',
    });
    await api.services.refunds.settle(refundId, stripeRefundId, 'pending');
    return { orderId, refundId };
  }

  const deliver = (event: object) => {
    const payload = JSON.stringify(event);
    return api.app.inject({
      method: 'POST',
      url: '/v1/webhooks/stripe',
      payload,
      headers: {
        'content-type': 'application/json',
        'stripe-signature': signStripePayload(payload, TEST_SETTINGS.stripeWebhookSecret),
      },
    });
  };
  const event = (type: string, object: object) => ({
    id: `evt_${randomUUID().replace(/-/g, '')}`,
    object: 'event',
    type,
    data: { object },
  });

  it('refund.updated settles a pending refund once; charge.refunded names it among the charge’s refunds', async () => {
    const stripeRefundId = `re_${randomUUID().slice(0, 8)}`;
    const { refundId } = await pendingRefund(stripeRefundId);
    const updated = event('refund.updated', {
      id: stripeRefundId,
      object: 'refund',
      status: 'succeeded',
      metadata: { refundId },
    });
    const first = await deliver(updated);
    expect(first.statusCode).toBe(200);
    expect(first.json()).toMatchObject({ duplicate: false });
    expect(await api.services.refunds.get(refundId)).toMatchObject({ status: 'SUCCEEDED', stripeRefundId });
    expect((await deliver(updated)).json()).toMatchObject({ duplicate: true });

    const other = `re_${randomUUID().slice(0, 8)}`;
    const second = await pendingRefund(other);
    const charge = event('charge.refunded', {
      id: 'ch_1',
      object: 'charge',
      refunds: { data: [{ id: other, object: 'refund', status: 'succeeded', metadata: {} }] },
    });
    expect((await deliver(charge)).statusCode).toBe(200);
    expect(await api.services.refunds.get(second.refundId)).toMatchObject({ status: 'SUCCEEDED' });
  });

  it('refund.failed fails a pending refund and frees its money; a refund the store does not know changes nothing', async () => {
    const stripeRefundId = `re_${randomUUID().slice(0, 8)}`;
    const { orderId, refundId } = await pendingRefund(stripeRefundId);
    const failed = event('refund.failed', {
      id: stripeRefundId,
      object: 'refund',
      status: 'failed',
      failure_reason: 'expired_or_canceled_card',
      metadata: { refundId },
    });
    expect((await deliver(failed)).statusCode).toBe(200);
    expect(await api.services.refunds.get(refundId)).toMatchObject({
      status: 'FAILED',
      failure: { code: 'REFUND_REFUSED' },
    });
    expect((await api.services.refunds.refundable(orderId))!.refundedCents).toBe(0);
    const unknown = event('refund.updated', {
      id: 're_unknown',
      object: 'refund',
      status: 'succeeded',
      metadata: { refundId: 'not-a-uuid' },
    });
    expect((await deliver(unknown)).json()).toMatchObject({ relayed: false });
  });
});

async function temporalResult(refundId: string) {
  await api.temporal.client.workflow.getHandle(`refund-${refundId}`).result();
}
