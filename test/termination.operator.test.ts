/**
 * A checkout terminated by an operator (the real Temporal CLI) at each phase: while placing the
 * order, while it waits for payment, while Stripe charges it, after the charge before the sale, and
 * while it is fulfilled. A step is held in flight by a PostgreSQL lock or by Stripe's answer held
 * back. `ops reconcile` names the stranded order (whatever its status: PENDING, AWAITING_PAYMENT,
 * PAID), `ops repair` resumes or unwinds it, the order ends as its customer expects (charged at
 * most once, completed or given back), and the reconciler then finds nothing.
 */
import { CheckoutClient } from '../temporal/checkout-client';
import { waitUntil } from '../devstack/waits';
import { isConfirm } from '../harness/stripe-proxy';
import { orderWorkflowId } from '../workflows/contract';
import { buildAppBeside, TEST_SETTINGS } from './helpers/api';
import { holdLock, someoneWaitsForLock, useOperatorBench } from './helpers/operator';

jest.setTimeout(240_000);

/** Long enough that no order here reaches its deadline on a busy machine unless a test gives it a shorter one. */
const ORDER_TTL_SECONDS = 300;
const bench = useOperatorBench(ORDER_TTL_SECONDS);

async function terminate(orderId: string): Promise<void> {
  await bench.temporalWorkflow('terminate', '--workflow-id', orderWorkflowId(orderId), '--reason', 'operator tier');
  await bench.closed(orderId);
}

/** `ops reconcile` finds the order stranded: not ended, and no checkout workflow running for it. */
async function expectNamedStranded(orderId: string): Promise<void> {
  const found = await bench.reconcile();
  expect(found.code).toBe(1);
  expect(found.stdout).toContain('order-has-workflow');
  expect(found.stdout).toContain(`[order ${orderId}]`);
}

/**
 * What the customer whose request was in flight is answered when the run ends under it: a refusal
 * with a code that says what to do (retry, or look at the order), not a bare INTERNAL error.
 */
function expectRefusedWithACode(answer: { statusCode: number; json(): unknown }): void {
  const { error } = answer.json() as { error?: { code: string } };
  expect({ status: answer.statusCode >= 400, code: error?.code }).toEqual({
    status: true,
    code: expect.not.stringMatching(/^INTERNAL$/),
  });
}

async function repair(orderId: string): Promise<void> {
  const repaired = await bench.ops('repair', orderId);
  expect(repaired).toMatchObject({ code: 0 });
  expect(repaired.stdout).toContain('started a recovery run');
}

/** The recovery run has taken the order on and waits for its customer. */
async function waitingAgain(orderId: string): Promise<void> {
  await waitUntil('the recovery run to take the order on', async () => {
    if ((await bench.runOf(orderId)).status !== 'RUNNING') return false;
    return (await bench.stateOf(orderId)).status !== 'PENDING';
  });
  expect((await bench.stateOf(orderId)).status).toBe('AWAITING_PAYMENT');
}

/** A paid order as its customer expects it in the end: completed, charged once, sold once. */
async function expectCompletedOnce(customer: string, orderId: string, productId: string): Promise<void> {
  await bench.closed(orderId);
  expect((await bench.runOf(orderId)).status).toBe('COMPLETED');
  expect((await bench.orderOf(customer, orderId)).status).toBe('COMPLETED');
  expect(await bench.api.services.payments.get(orderId)).toMatchObject({ status: 'SUCCEEDED', refunded: false });
  expect(bench.confirmsOf(orderId)).toBe(1);
  expect(await bench.stockOf(productId)).toEqual({ available: 7, reserved: 0, sold: 3 });
  expect(await bench.ordersUsed(customer)).toBe(1);
  expect(await bench.reconcile()).toMatchObject({ code: 0, stderr: '' });
}

it('an order terminated while it is placed is repaired into a waiting order, reserved once, that pays once', async () => {
  const product = await bench.newProduct(10);
  const customer = `operator-tier-placing-${product.id.slice(0, 8)}`;
  // Its stock reservation waits on the product's row: the order is recorded, the placement not done.
  const lock = await holdLock(bench.api.dbs.urls.inventory, 'SELECT id FROM products WHERE id = $1 FOR UPDATE', [
    product.id,
  ]);
  let orderId = '';
  const placing = bench.api.as(customer, {
    method: 'POST',
    url: '/v1/orders',
    payload: { items: [{ productId: product.id, quantity: 3 }] },
  });
  try {
    await waitUntil('the order to be recorded and its reservation to wait on the lock', async () => {
      orderId = (await bench.api.services.orders.listForCustomer(customer))[0]?.id ?? '';
      return orderId !== '' && (await someoneWaitsForLock(bench.api.dbs.urls.inventory));
    });
    await terminate(orderId);
  } finally {
    await lock.release();
  }
  const placed = await placing;
  expect((await bench.api.services.orders.get(orderId))!.status).toBe('PENDING');

  await expectNamedStranded(orderId);
  await repair(orderId);
  await waitingAgain(orderId);
  expect(await bench.stockOf(product.id)).toEqual({ available: 7, reserved: 3, sold: 0 });
  expect(await bench.ordersUsed(customer)).toBe(1);

  expect((await bench.pay(customer, orderId)).statusCode).toBe(200);
  await expectCompletedOnce(customer, orderId, product.id);
  expectRefusedWithACode(placed);
});

it('a terminated waiting order is named by the reconciler and repaired by ops repair, its stock and quota back', async () => {
  const product = await bench.newProduct(10);
  const { customer, order } = await bench.placeOrder(product.id);
  await terminate(order.id);
  await expectNamedStranded(order.id);
  expect(await bench.stockOf(product.id)).toEqual({ available: 7, reserved: 3, sold: 0 });

  // Repaired before its deadline, the order waits again and the customer can still cancel it.
  await repair(order.id);
  await waitingAgain(order.id);
  expect((await bench.ops('repair', order.id)).stdout).toContain('has a running checkout workflow');
  expect((await bench.orderOf(customer, order.id)).expiresAt).toBe(order.expiresAt);

  const cancelled = await bench.api.as(customer, { method: 'POST', url: `/v1/orders/${order.id}/cancel`, payload: {} });
  expect(cancelled.statusCode).toBe(200);
  await bench.closed(order.id);
  expect((await bench.orderOf(customer, order.id)).status).toBe('CANCELLED');
  expect(await bench.stockOf(product.id)).toEqual({ available: 10, reserved: 0, sold: 0 });
  expect(await bench.ordersUsed(customer)).toBe(0);
  expect(await bench.reconcile()).toMatchObject({ code: 0, stderr: '' });
});

it('a terminated order repaired after its deadline expires at once and gives everything back', async () => {
  // This order's own deadline is short; the harness's is kept long for the other tests.
  const shortTtlSeconds = 15;
  const app = await buildAppBeside(bench.api, {
    settings: { ...TEST_SETTINGS, orderTtlSeconds: shortTtlSeconds },
    checkout: new CheckoutClient(bench.api.temporal.client, { deadlineMs: 60_000 }),
  });
  try {
    const product = await bench.newProduct(10);
    const { customer, order } = await bench.placeOrder(product.id, app);
    await terminate(order.id);
    expect((await bench.api.services.orders.get(order.id))!.status).toBe('AWAITING_PAYMENT');
    await waitUntil('the order to pass its deadline', async () => Date.now() > Date.parse(order.expiresAt), {
      timeoutMs: (shortTtlSeconds + 10) * 1000,
      intervalMs: 500,
    });

    await repair(order.id);
    await bench.closed(order.id);
    expect((await bench.orderOf(customer, order.id)).status).toBe('EXPIRED');
    expect(await bench.stockOf(product.id)).toEqual({ available: 10, reserved: 0, sold: 0 });
    expect(await bench.ordersUsed(customer)).toBe(0);
    expect(bench.confirmsOf(order.id)).toBe(0);
    expect(await bench.reconcile()).toMatchObject({ code: 0, stderr: '' });
  } finally {
    await app.close();
  }
});

it('an order terminated while Stripe charges it is charged once: the customer pays again and it completes', async () => {
  const { stripe } = bench;
  const product = await bench.newProduct(10);
  const { customer, order } = await bench.placeOrder(product.id);
  // Stripe takes the money; its answer (and any look-up of the intent) does not come back until the run is gone.
  stripe.holdAnswer = (request) => request.orderId === order.id && request.kind !== 'createIntent';
  const paying = bench.pay(customer, order.id);
  try {
    await waitUntil('Stripe to have confirmed the charge', async () =>
      stripe.requests.some((r) => isConfirm(r) && r.orderId === order.id && r.status === 200),
    );
    await terminate(order.id);
  } finally {
    stripe.holdAnswer = undefined;
  }
  const answered = await paying;
  expect(await bench.api.services.payments.get(order.id)).toMatchObject({
    status: 'PENDING',
    attempts: [{ attempt: 1, outcome: null }],
  });

  await repair(order.id);
  await waitingAgain(order.id);
  expect((await bench.orderOf(customer, order.id)).expiresAt).toBe(order.expiresAt);

  // Paying again asks Stripe first: the charge it already took is the payment, not a second one.
  expect((await bench.pay(customer, order.id)).statusCode).toBe(200);
  await expectCompletedOnce(customer, order.id, product.id);
  expectRefusedWithACode(answered);
});

it('an order terminated after its charge, before its sale, is repaired into a completed order charged once', async () => {
  const product = await bench.newProduct(10);
  const { customer, order } = await bench.placeOrder(product.id);
  // Selling the stock waits on the product's row: the charge went through, the sale is in flight.
  const lock = await holdLock(bench.api.dbs.urls.inventory, 'SELECT id FROM products WHERE id = $1 FOR UPDATE', [
    product.id,
  ]);
  const paying = bench.pay(customer, order.id);
  try {
    await waitUntil('the charge to be recorded and the sale to wait on the lock', async () => {
      const payment = await bench.api.services.payments.get(order.id);
      return payment?.status === 'SUCCEEDED' && (await someoneWaitsForLock(bench.api.dbs.urls.inventory));
    });
    await terminate(order.id);
  } finally {
    await lock.release();
  }
  const answered = await paying;
  expect((await bench.api.services.orders.get(order.id))!.status).toBe('AWAITING_PAYMENT');

  await repair(order.id);
  await expectCompletedOnce(customer, order.id, product.id);
  expectRefusedWithACode(answered);
});

it('an order terminated while it is fulfilled (paid, not completed) is repaired into a completed order', async () => {
  const product = await bench.newProduct(10);
  const { customer, order } = await bench.placeOrder(product.id);
  // Clearing the cart waits on its table: the order is PAID, the stock sold, COMPLETED not yet written.
  const lock = await holdLock(bench.api.dbs.urls.cart, 'LOCK TABLE cart_clearings IN EXCLUSIVE MODE');
  const paying = bench.pay(customer, order.id);
  try {
    await waitUntil('the order to be paid and its cart clearing to wait on the lock', async () => {
      const recorded = await bench.api.services.orders.get(order.id);
      return recorded?.status === 'PAID' && (await someoneWaitsForLock(bench.api.dbs.urls.cart));
    });
    await terminate(order.id);
  } finally {
    await lock.release();
  }
  await paying; // Answered PAID, or the run's end: either way the order is the customer's.

  await expectNamedStranded(order.id);
  await repair(order.id);
  await expectCompletedOnce(customer, order.id, product.id);
});
