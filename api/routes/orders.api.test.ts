/**
 * Orders through the API on real services, databases and Temporal workers: placement and its
 * outcomes, Idempotency-Key, payment (paid, declined, refused), cancel and ownership. Card
 * declines come from a recorder in front of stripe-mock, which cannot decline by itself.
 */
import type { LightMyRequestResponse } from 'fastify';
import { randomUUID } from 'node:crypto';
import { startApiHarness, TEST_SETTINGS, type ApiHarness } from '../../test/helpers/api';
import { newProduct as newProductIn } from '../../test/helpers/checkouts';
import { waitUntil } from '../../devstack/waits';
import { INSUFFICIENT_FUNDS, isConfirm, startStripeProxy, type StripeProxy } from '../../harness/stripe-proxy';

jest.setTimeout(60_000);

const DECLINING_CARD = 'pm_card_chargeDeclinedInsufficientFunds';

let api: ApiHarness;
let stripe: StripeProxy;
beforeAll(async () => {
  stripe = await startStripeProxy({
    target: process.env.STRIPE_API_BASE!,
    intercept: (request) =>
      isConfirm(request) && request.body.includes(`payment_method=${DECLINING_CARD}`) ? INSUFFICIENT_FUNDS : undefined,
  });
  // Orders live for an hour here: an expiry firing in a later test (the harness's 60 s is less than
  // this file takes on a busy machine) would move the metrics and rows those tests compare.
  api = await startApiHarness({
    stripeApiBase: stripe.url,
    app: { settings: { ...TEST_SETTINGS, orderTtlSeconds: 3_600 } },
  });
});
afterAll(async () => {
  await api?.close();
  await stripe?.close();
});

const newProduct = (available: number, priceCents = 1_000) =>
  newProductIn(api.services.inventory, 'SKU', available, priceCents);

const newUser = () => `user-${randomUUID().slice(0, 8)}`;
const available = async (productId: string) => (await api.services.inventory.getProduct(productId))!.available;
const ordersUsed = async (userId: string) =>
  (await api.services.quota.getQuota(userId)).resources.find((r) => r.resource === 'orders')?.used ?? 0;

function order(userId: string, items?: { productId: string; quantity: number }[], idempotencyKey?: string) {
  return api.as(userId, {
    method: 'POST',
    url: '/v1/orders',
    ...(items ? { payload: { items } } : {}),
    headers: idempotencyKey ? { 'idempotency-key': idempotencyKey } : {},
  });
}

/** The payment is answered once the money is settled (PAID); the cart is cleared after it: wait until the order completes. */
async function completed(userId: string, orderId: string) {
  const read = async () =>
    (await api.as(userId, { method: 'GET', url: `/v1/orders/${orderId}` })).json<{ status: string; steps: string[] }>();
  let order = await read();
  await waitUntil(`order ${orderId} to move on from PAID`, async () => (order = await read()).status !== 'PAID', {
    timeoutMs: 30_000,
    intervalMs: 50,
  });
  expect(order.status).toBe('COMPLETED');
  return order;
}

/** A refused request's status and error code, asserted together. */
const refusal = (response: LightMyRequestResponse) => [response.statusCode, response.json().error.code];

/** Waits for the workflow of the customer's first listed order to end, then expects that order REJECTED with `failureCode`. */
async function expectRejected(customerId: string, failureCode: string): Promise<void> {
  const [rejected] = await api.services.orders.listForCustomer(customerId);
  await api.temporal.client.workflow.getHandle(`order-${rejected!.id}`).result();
  expect(await api.services.orders.get(rejected!.id)).toMatchObject({ status: 'REJECTED', failureCode });
}

/** The store's own metrics (storefront_*), by series: `storefront_orders{status="PAID"}` → value. */
async function storeMetrics(): Promise<Record<string, number>> {
  // A scrape reads the figures of the latest refresh (every 15 s): read them now.
  await api.app.metrics.refresh();
  const text = (await api.app.inject({ method: 'GET', url: '/metrics' })).body;
  return Object.fromEntries(
    [...text.matchAll(/^(storefront_(?:orders|compensations_total)\{[^}]*\}) (\d+)$/gm)].map((m) => [
      m[1]!,
      Number(m[2]),
    ]),
  );
}

/** How each store metric moved between two readings (series that did not move are left out). */
function moved(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const changes: Record<string, number> = {};
  for (const series of new Set([...Object.keys(before), ...Object.keys(after)])) {
    const change = (after[series] ?? 0) - (before[series] ?? 0);
    if (change !== 0) changes[series] = change;
  }
  return changes;
}

/** What reached Stripe's confirmation endpoint for the order: the key of each try and what was answered. */
const confirmsOf = (orderId: string) =>
  stripe.requests
    .filter(isConfirm)
    .filter((r) => r.idempotencyKey?.startsWith(`order:${orderId}:`))
    .map((r) => ({ key: r.idempotencyKey, status: r.status }));

const pay = (userId: string, orderId: string, paymentMethod = 'pm_card_visa') =>
  api.as(userId, { method: 'POST', url: `/v1/orders/${orderId}/payment`, payload: { paymentMethod } });

describe('POST /v1/orders', () => {
  it('answers 201 AWAITING_PAYMENT once the stock is reserved, from the cart', async () => {
    const alice = newUser();
    const product = await newProduct(5, 1_250);
    expect(
      (await api.as(alice, { method: 'PUT', url: `/v1/cart/items/${product.id}`, payload: { quantity: 2 } }))
        .statusCode,
    ).toBe(200);
    const response = await order(alice);
    expect(response.statusCode).toBe(201);
    const placed = response.json();
    expect(placed).toMatchObject({
      status: 'AWAITING_PAYMENT',
      totalCents: 2_500,
      currency: 'usd',
      workflowId: `order-${placed.id}`,
      lines: [{ productId: product.id, quantity: 2, unitPriceCents: 1_250 }],
      payment: null,
      failure: null,
    });
    expect(Date.parse(placed.expiresAt)).toBeGreaterThan(Date.now());
    expect(await available(product.id)).toBe(3);
    // The cart stays until the order is paid: an expired or cancelled order leaves it to try again.
    expect((await api.services.cart.get(alice)).items).toHaveLength(1);
  });

  it('places the items of the body, merging repeated products', async () => {
    // Six units: three are half of them, the most one free customer may hold (docs/design.md "Holding limits").
    const product = await newProduct(6);
    const response = await order(newUser(), [
      { productId: product.id, quantity: 1 },
      { productId: product.id, quantity: 2 },
    ]);
    expect(response.statusCode).toBe(201);
    expect(response.json().lines).toEqual([expect.objectContaining({ productId: product.id, quantity: 3 })]);
    expect(await available(product.id)).toBe(3);
  });

  it('the same Idempotency-Key returns the same order and reserves once; another body with it gets 422', async () => {
    const alice = newUser();
    const product = await newProduct(5);
    const key = `checkout-${randomUUID()}`;
    const first = await order(alice, [{ productId: product.id, quantity: 2 }], key);
    const [second, third] = await Promise.all([
      order(alice, [{ productId: product.id, quantity: 2 }], key),
      order(alice, [{ productId: product.id, quantity: 2 }], key),
    ]);
    expect(first.statusCode).toBe(201);
    expect(second.json().id).toBe(first.json().id);
    expect(third.json().id).toBe(first.json().id);
    expect(second.headers['idempotent-replayed']).toBe('true');
    expect(await available(product.id)).toBe(3);

    await api.settled(first.json().id);
    const before = await api.snapshot();
    const reused = await order(alice, [{ productId: product.id, quantity: 1 }], key);
    expect(reused.statusCode).toBe(422);
    expect(reused.json()).toEqual({ error: { code: 'IDEMPOTENCY_KEY_REUSED', message: expect.any(String) } });
    expect(await api.snapshot()).toEqual(before);

    // Keys belong to their user: bob's same key is a new order of his own.
    const bob = await order(newUser(), [{ productId: product.id, quantity: 1 }], key);
    expect(bob.statusCode).toBe(201);
    expect(bob.json().id).not.toBe(first.json().id);
  });

  it('409 OUT_OF_STOCK leaves the stock as it was, records the order REJECTED and gives the quota unit back', async () => {
    const bob = newUser();
    const product = await newProduct(1);
    const response = await order(bob, [{ productId: product.id, quantity: 2 }]);
    expect(refusal(response)).toEqual([409, 'OUT_OF_STOCK']);
    expect(await available(product.id)).toBe(1);
    await expectRejected(bob, 'OUT_OF_STOCK');
    expect(await ordersUsed(bob)).toBe(0);
  });

  it('429 QUOTA_EXCEEDED once the month’s orders are used up', async () => {
    const carol = newUser();
    await api.services.quota.recordUsage({
      userId: carol,
      resource: 'orders',
      quantity: 20,
      idempotencyKey: `fill-${carol}`,
    });
    const product = await newProduct(1);
    const response = await order(carol, [{ productId: product.id, quantity: 1 }]);
    expect(refusal(response)).toEqual([429, 'QUOTA_EXCEEDED']);
    expect(await available(product.id)).toBe(1);
    await expectRejected(carol, 'QUOTA_EXCEEDED');
    expect(await ordersUsed(carol)).toBe(20);
  });

  it('400 CART_EMPTY without items and with an empty cart', async () => {
    const response = await order(newUser());
    expect(refusal(response)).toEqual([400, 'CART_EMPTY']);
  });

  it('400 UNKNOWN_PRODUCT for a product that does not exist', async () => {
    const response = await order(newUser(), [{ productId: randomUUID(), quantity: 1 }]);
    expect(refusal(response)).toEqual([400, 'UNKNOWN_PRODUCT']);
  });
});

describe('payment, cancel and reading orders', () => {
  it('pays: 200 with the paid order, one charge, stock sold, then the cart emptied; a second payment gets 409', async () => {
    const alice = newUser();
    const product = await newProduct(3, 999);
    await api.as(alice, { method: 'PUT', url: `/v1/cart/items/${product.id}`, payload: { quantity: 1 } });
    const placed = (await order(alice)).json();

    const paid = await pay(alice, placed.id);
    expect(paid.statusCode).toBe(200);
    expect(paid.json()).toMatchObject({
      id: placed.id,
      payment: { status: 'SUCCEEDED', amountCents: 999, refunded: false },
    });
    expect(['PAID', 'COMPLETED']).toContain(paid.json().status);
    expect(paid.json().steps).toEqual(expect.arrayContaining(['stockReserved', 'paymentCharged', 'orderPaid']));
    expect((await completed(alice, placed.id)).steps).toEqual(expect.arrayContaining(['cartCleared']));
    expect((await api.services.cart.get(alice)).items).toEqual([]);
    expect(await available(product.id)).toBe(2);

    const again = await pay(alice, placed.id);
    expect(refusal(again)).toEqual([409, 'ORDER_NOT_PAYABLE']);
    const confirms = stripe.requests
      .filter(isConfirm)
      .filter((r) => r.idempotencyKey?.startsWith(`order:${placed.id}:`));
    expect(confirms).toHaveLength(1);
  });

  it('402 PAYMENT_DECLINED leaves the order payable; a good card then pays it', async () => {
    const alice = newUser();
    const product = await newProduct(1);
    const placed = (await order(alice, [{ productId: product.id, quantity: 1 }])).json();
    await api.settled(placed.id);
    const before = await storeMetrics();

    const declined = await pay(alice, placed.id, DECLINING_CARD);
    expect(refusal(declined)).toEqual([402, 'PAYMENT_DECLINED']);
    expect((await api.as(alice, { method: 'GET', url: `/v1/orders/${placed.id}` })).json().status).toBe(
      'AWAITING_PAYMENT',
    );
    // The decline is recorded as the first attempt; the stock stays held for the order, nothing is undone.
    expect((await api.services.payments.get(placed.id))!.attempts).toEqual([
      { attempt: 1, outcome: 'DECLINED', declineCode: 'insufficient_funds' },
    ]);
    expect(confirmsOf(placed.id)).toEqual([{ key: `order:${placed.id}:confirm:1`, status: 402 }]);
    expect(await available(product.id)).toBe(0);
    expect((await api.services.inventory.findReservation(placed.id))!.status).toBe('HELD');

    expect(['PAID', 'COMPLETED']).toContain((await pay(alice, placed.id)).json().status);
    await completed(alice, placed.id);
    // Two attempts, two confirmations under their own keys, one charge; the unit sold once.
    expect(await api.services.payments.get(placed.id)).toMatchObject({
      amountCents: 1_000,
      refunded: false,
      attempts: [
        { attempt: 1, outcome: 'DECLINED', declineCode: 'insufficient_funds' },
        { attempt: 2, outcome: 'SUCCEEDED', declineCode: null },
      ],
    });
    expect(confirmsOf(placed.id)).toEqual([
      { key: `order:${placed.id}:confirm:1`, status: 402 },
      { key: `order:${placed.id}:confirm:2`, status: 200 },
    ]);
    expect(await available(product.id)).toBe(0);
    expect((await api.services.inventory.findReservation(placed.id))!.status).toBe('COMMITTED');
    // The metrics moved by this order alone: one more COMPLETED, one fewer waiting, no compensation.
    expect(moved(before, await storeMetrics())).toEqual({
      'storefront_orders{status="AWAITING_PAYMENT"}': -1,
      'storefront_orders{status="COMPLETED"}': 1,
    });
  });

  it('cancels before payment (200, stock back); a second cancel gets 409', async () => {
    const alice = newUser();
    const product = await newProduct(4);
    const placed = (await order(alice, [{ productId: product.id, quantity: 2 }])).json();
    await api.settled(placed.id);
    const before = await storeMetrics();
    const cancelled = await api.as(alice, {
      method: 'POST',
      url: `/v1/orders/${placed.id}/cancel`,
      payload: { reason: 'changed my mind' },
    });
    expect(cancelled.statusCode).toBe(200);
    expect(cancelled.json()).toMatchObject({ status: 'CANCELLED', failure: null });
    expect(await available(product.id)).toBe(4);

    const again = await api.as(alice, { method: 'POST', url: `/v1/orders/${placed.id}/cancel` });
    expect(refusal(again)).toEqual([409, 'ORDER_NOT_CANCELLABLE']);
    expect((await pay(alice, placed.id)).json().error.code).toBe('ORDER_NOT_PAYABLE');

    // Operators see it in the metrics: the order moved to CANCELLED, and the compensations that
    // released its stock and gave its quota back; nothing was charged, so nothing refunded.
    expect(moved(before, await storeMetrics())).toEqual({
      'storefront_orders{status="AWAITING_PAYMENT"}': -1,
      'storefront_orders{status="CANCELLED"}': 1,
      'storefront_compensations_total{step="stock_released"}': 1,
      'storefront_compensations_total{step="quota_released"}': 1,
    });
  });

  it('lists and reads only the caller’s orders; anyone else’s is 404 and stays untouched', async () => {
    const alice = newUser();
    const mallory = newUser();
    const product = await newProduct(2);
    const placed = (await order(alice, [{ productId: product.id, quantity: 1 }])).json();

    const list = await api.as(alice, { method: 'GET', url: '/v1/orders' });
    expect(list.json().items.map((o: { id: string }) => o.id)).toEqual([placed.id]);
    expect((await api.as(mallory, { method: 'GET', url: '/v1/orders' })).json().items).toEqual([]);

    await api.settled(placed.id);
    const before = await api.snapshot();
    for (const request of [
      { method: 'GET' as const, url: `/v1/orders/${placed.id}` },
      { method: 'POST' as const, url: `/v1/orders/${placed.id}/payment`, payload: { paymentMethod: 'pm_card_visa' } },
      { method: 'POST' as const, url: `/v1/orders/${placed.id}/cancel` },
      { method: 'GET' as const, url: `/v1/orders/${randomUUID()}` },
    ]) {
      const response = await api.as(mallory, request);
      expect([request.url, response.statusCode, response.json().error.code]).toEqual([
        request.url,
        404,
        'ORDER_NOT_FOUND',
      ]);
    }
    expect(await api.snapshot()).toEqual(before);
  });
});
