import { randomUUID } from 'node:crypto';
import { DomainError } from '../../lib/errors';
import { useServiceDatabase } from '../../test/helpers/databases';
import { errorOf } from '../../test/helpers/rejections';
import { behindAnUncommittedWrite } from '../../test/helpers/lock-waits';
import type { OrderLineInput, OrderStatus } from '../../workflows/contract';
import { createOrdersDb, type OrdersDb } from './db';
import { ALLOWED_TRANSITIONS, canTransition } from './order-status';
import { OrdersService, orderTotal, type CreateOrderInput, type OrderView } from './orders.service';

// Races of dozens of transactions queue for a pool of a few connections: seconds on a busy 2-core machine.
jest.setTimeout(30_000);

let db: OrdersDb;
let orders: OrdersService;
const database = useServiceDatabase('orders', createOrdersDb, (opened) => {
  db = opened;
  orders = new OrdersService(opened);
});

const LINES: OrderLineInput[] = [
  { productId: '00000000-0000-4000-8000-00000000000b', sku: 'MUG', name: 'Mug', quantity: 2, unitPriceCents: 1250 },
  { productId: '00000000-0000-4000-8000-00000000000a', sku: 'CAP', name: 'Cap', quantity: 1, unitPriceCents: 1999 },
];

function orderInput(extra: Partial<CreateOrderInput> = {}): CreateOrderInput {
  return { orderId: randomUUID(), customerId: 'alice', lines: LINES, currency: 'usd', ...extra };
}

/** Drives an order through the given statuses (each a legal step). */
async function orderIn(path: OrderStatus[], extra: Partial<CreateOrderInput> = {}): Promise<OrderView> {
  const order = await orders.create(orderInput(extra));
  let current = order;
  for (const to of path) current = await orders.transition({ orderId: order.id, to });
  return current;
}

const statuses = (order: OrderView | null) => order?.history.map((h) => [h.from, h.to]);

test('create stores lines with their price snapshot and the total, in PENDING with history', async () => {
  const input = orderInput({ idempotencyKey: 'key-1', requestHash: 'hash-1' });
  const order = await orders.create(input);
  expect(order).toMatchObject({
    id: input.orderId,
    customerId: 'alice',
    status: 'PENDING',
    totalCents: 2 * 1250 + 1999,
    currency: 'usd',
    expiresAt: null,
    failureCode: null,
    idempotencyKey: 'key-1',
    requestHash: 'hash-1',
  });
  expect(order.totalCents).toBe(orderTotal(LINES));
  expect(order.lines).toEqual([LINES[1], LINES[0]]); // ordered by SKU
  expect(statuses(order)).toEqual([[null, 'PENDING']]);
});

test('create is idempotent by order id, also when retried concurrently', async () => {
  const input = orderInput();
  const first = await orders.create(input);
  const again = await orders.create({ ...input, lines: [LINES[0]!] });
  expect(again).toEqual(first);

  const racedInput = orderInput();
  const raced = await Promise.all(Array.from({ length: 6 }, () => orders.create(racedInput)));
  for (const r of raced) expect(r).toEqual(raced[0]);
  expect(await db.order.count({ where: { id: racedInput.orderId } })).toBe(1);
  expect(await db.orderStatusChange.count({ where: { orderId: racedInput.orderId } })).toBe(1);
  expect(await db.orderLine.count({ where: { orderId: racedInput.orderId } })).toBe(2);
});

test('legal transitions are applied and recorded in the history, with reason, expiry and failure', async () => {
  const order = await orders.create(orderInput());
  const expiresAt = new Date('2026-11-23T18:00:00.000Z');
  const awaiting = await orders.transition({
    orderId: order.id,
    to: 'AWAITING_PAYMENT',
    expiresAt,
    reason: 'stock reserved',
  });
  expect(awaiting).toMatchObject({ status: 'AWAITING_PAYMENT', expiresAt });
  const paid = await orders.transition({ orderId: order.id, to: 'PAID' });
  const completed = await orders.transition({ orderId: order.id, to: 'COMPLETED' });
  expect(completed.status).toBe('COMPLETED');
  expect(completed.expiresAt).toEqual(expiresAt);
  expect(statuses(completed)).toEqual([
    [null, 'PENDING'],
    ['PENDING', 'AWAITING_PAYMENT'],
    ['AWAITING_PAYMENT', 'PAID'],
    ['PAID', 'COMPLETED'],
  ]);
  expect(completed.history[1]?.reason).toBe('stock reserved');
  expect(paid.updatedAt.getTime()).toBeLessThanOrEqual(completed.updatedAt.getTime());

  const rejected = await orders.create(orderInput());
  const withFailure = await orders.transition({
    orderId: rejected.id,
    to: 'REJECTED',
    failureCode: 'OUT_OF_STOCK',
    reason: 'Only 0 of MUG left',
  });
  expect(withFailure).toMatchObject({
    status: 'REJECTED',
    failureCode: 'OUT_OF_STOCK',
    failureReason: 'Only 0 of MUG left',
  });
});

test.each<[OrderStatus[], OrderStatus]>([
  [['AWAITING_PAYMENT', 'PAID', 'COMPLETED'], 'PENDING'],
  [['AWAITING_PAYMENT', 'EXPIRED'], 'PAID'],
  [['AWAITING_PAYMENT', 'PAID'], 'EXPIRED'],
  [['AWAITING_PAYMENT', 'PAID'], 'CANCELLED'],
  [['CANCELLED'], 'AWAITING_PAYMENT'],
  [[], 'PAID'],
  [['AWAITING_PAYMENT', 'FAILED'], 'NEEDS_ATTENTION'],
])('after %j, a move to %s is refused with INVALID_TRANSITION and changes nothing', async (path, to) => {
  const order = await orderIn(path);
  const error = await errorOf(
    DomainError,
    orders.transition({ orderId: order.id, to, failureCode: 'X', reason: 'nope', expiresAt: new Date() }),
  );
  expect(error.code).toBe('INVALID_TRANSITION');
  expect(error.details).toEqual({ from: order.status, to });
  expect(await orders.get(order.id)).toEqual(order);
});

test('a transition to the current status is a no-op', async () => {
  const order = await orderIn(['AWAITING_PAYMENT', 'PAID']);
  const again = await orders.transition({ orderId: order.id, to: 'PAID', reason: 'retried' });
  expect(again).toEqual(order);
  const raced = await Promise.all(
    Array.from({ length: 5 }, () => orders.transition({ orderId: order.id, to: 'COMPLETED' })),
  );
  for (const r of raced) expect(r.status).toBe('COMPLETED');
  expect((await orders.get(order.id))?.history.filter((h) => h.to === 'COMPLETED')).toHaveLength(1);

  const expired = await orderIn(['AWAITING_PAYMENT', 'EXPIRED']);
  expect(await orders.transition({ orderId: expired.id, to: 'EXPIRED' })).toEqual(expired);
});

test('PAID asked of a completed order is a no-op (a run reset to before its PAID write); going back further is refused', async () => {
  const completed = await orderIn(['AWAITING_PAYMENT', 'PAID', 'COMPLETED']);
  expect(await orders.transition({ orderId: completed.id, to: 'PAID' })).toEqual(completed);
  expect((await errorOf(DomainError, orders.transition({ orderId: completed.id, to: 'AWAITING_PAYMENT' }))).code).toBe(
    'INVALID_TRANSITION',
  );
});

test('payment racing expiry: exactly one of PAID and EXPIRED wins, the other is refused', async () => {
  for (let round = 0; round < 10; round++) {
    const order = await orderIn(['AWAITING_PAYMENT']);
    const [paid, expired] = await Promise.allSettled([
      orders.transition({ orderId: order.id, to: 'PAID' }),
      orders.transition({ orderId: order.id, to: 'EXPIRED' }),
    ]);
    const outcomes = [paid, expired];
    const winners = outcomes.filter((o): o is PromiseFulfilledResult<OrderView> => o.status === 'fulfilled');
    const losers = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
    expect(winners).toHaveLength(1);
    expect(losers).toHaveLength(1);
    expect(losers[0]!.reason).toBeInstanceOf(DomainError);
    expect((losers[0]!.reason as DomainError).code).toBe('INVALID_TRANSITION');

    const final = (await orders.get(order.id))!;
    expect(final.status).toBe(winners[0]!.value.status);
    const fromAwaiting = final.history.filter((h) => h.from === 'AWAITING_PAYMENT');
    expect(fromAwaiting).toHaveLength(1);
    expect(fromAwaiting[0]!.to).toBe(final.status);
    expect(final.history).toHaveLength(3);
  }
});

test('NEEDS_ATTENTION leaves only to a terminal status chosen by an operator', async () => {
  for (const terminal of ['COMPLETED', 'REJECTED', 'EXPIRED', 'CANCELLED', 'FAILED'] as const) {
    const stuck = await orderIn(['AWAITING_PAYMENT', 'PAID', 'NEEDS_ATTENTION']);
    const resolved = await orders.transition({ orderId: stuck.id, to: terminal, reason: 'operator resolved' });
    expect(resolved.status).toBe(terminal);
    expect(resolved.history.at(-1)).toMatchObject({
      from: 'NEEDS_ATTENTION',
      to: terminal,
      reason: 'operator resolved',
    });
  }
  const stuck = await orderIn(['NEEDS_ATTENTION']);
  for (const to of ['PENDING', 'AWAITING_PAYMENT', 'PAID'] as const) {
    expect((await errorOf(DomainError, orders.transition({ orderId: stuck.id, to }))).code).toBe('INVALID_TRANSITION');
  }
});

test('the status machine: ended orders have no way out but refunds, backwards and skipping moves are not listed', async () => {
  for (const terminal of ['REFUNDED', 'REJECTED', 'EXPIRED', 'CANCELLED', 'FAILED'] as const)
    expect(ALLOWED_TRANSITIONS[terminal]).toEqual([]);
  // A completed order moves only as it is refunded, in part and then in full.
  expect(ALLOWED_TRANSITIONS.COMPLETED).toEqual(['PARTIALLY_REFUNDED', 'REFUNDED']);
  expect(ALLOWED_TRANSITIONS.PARTIALLY_REFUNDED).toEqual(['REFUNDED']);
  expect(canTransition('PENDING', 'AWAITING_PAYMENT')).toBe(true);
  expect(canTransition('AWAITING_PAYMENT', 'PENDING')).toBe(false);
  expect(canTransition('PENDING', 'PAID')).toBe(false);
  expect(canTransition('PAID', 'CANCELLED')).toBe(false);
});

test('transition of an unknown order is ORDER_NOT_FOUND', async () => {
  expect((await errorOf(DomainError, orders.transition({ orderId: randomUUID(), to: 'PAID' }))).code).toBe(
    'ORDER_NOT_FOUND',
  );
});

test("getForCustomer and listForCustomer hide other customers' orders", async () => {
  const bobs = await orders.create(orderInput({ customerId: 'bob' }));
  const carols = await orders.create(orderInput({ customerId: 'carol' }));
  expect((await orders.getForCustomer('bob', bobs.id))?.id).toBe(bobs.id);
  expect(await orders.getForCustomer('carol', bobs.id)).toBeNull();
  expect(await orders.getForCustomer('bob', randomUUID())).toBeNull();
  expect((await orders.listForCustomer('bob')).map((o) => o.id)).toEqual([bobs.id]);
  expect((await orders.listForCustomer('carol')).map((o) => o.id)).toEqual([carols.id]);
});

test('findByIdempotencyKey finds the order of that customer and key only', async () => {
  const order = await orders.create(orderInput({ customerId: 'dave', idempotencyKey: 'checkout-1', requestHash: 'h' }));
  const other = await orders.create(orderInput({ customerId: 'erin', idempotencyKey: 'checkout-1' }));
  expect((await orders.findByIdempotencyKey('dave', 'checkout-1'))?.id).toBe(order.id);
  expect((await orders.findByIdempotencyKey('erin', 'checkout-1'))?.id).toBe(other.id);
  expect(await orders.findByIdempotencyKey('dave', 'checkout-2')).toBeNull();
  expect(await orders.findByIdempotencyKey('frank', 'checkout-1')).toBeNull();
});

test('orders created in a batch are each what create makes: PENDING with their lines, total and first history entry; one existing id refuses the lot', async () => {
  const customerId = `batch-${randomUUID()}`;
  const batch = [orderInput({ customerId }), orderInput({ customerId })];
  await orders.createMany(batch);
  for (const input of batch) {
    const order = await orders.get(input.orderId);
    expect(order).toMatchObject({ customerId, status: 'PENDING', totalCents: orderTotal(LINES) });
    expect(order?.lines).toHaveLength(LINES.length);
    expect(order?.lines).toEqual(expect.arrayContaining(LINES));
    expect(order?.history.map((entry) => [entry.from, entry.to])).toEqual([[null, 'PENDING']]);
  }

  const late = orderInput({ customerId });
  await expect(orders.createMany([late, batch[0]!])).rejects.toThrow();
  expect(await orders.get(late.orderId)).toBeNull();
});

test("the checkout's steps answer the order's summary: a recorded order again, and whether it was ever paid", async () => {
  const input = orderInput();
  const placed = await orders.record(input);
  expect(placed).toEqual({
    id: input.orderId,
    status: 'PENDING',
    totalCents: orderTotal(LINES),
    expiresAt: null,
    failureCode: null,
    failureReason: null,
    paidBefore: false,
  });
  const expiresAt = new Date('2030-01-01T00:00:00.123Z');
  expect(await orders.move({ orderId: input.orderId, to: 'AWAITING_PAYMENT', expiresAt })).toMatchObject({
    status: 'AWAITING_PAYMENT',
    expiresAt,
    paidBefore: false,
  });
  expect(await orders.move({ orderId: input.orderId, to: 'PAID' })).toMatchObject({ status: 'PAID', paidBefore: true });
  const parked = await orders.move({
    orderId: input.orderId,
    to: 'NEEDS_ATTENTION',
    failureCode: 'CART_DOWN',
    reason: 'the cart did not answer',
  });
  expect(parked).toMatchObject({
    failureCode: 'CART_DOWN',
    failureReason: 'the cart did not answer',
    paidBefore: true,
  });
  // A later run recording the same order (a reset) gets it as it stands, with nothing written again.
  expect(await orders.record(input)).toEqual(parked);
  expect((await orders.get(input.orderId))?.history).toHaveLength(4);
});

test('a move that waited for a concurrent move keeps what that move wrote', async () => {
  const order = await orderIn([]);
  const expiresAt = new Date('2030-01-01T00:00:00.000Z');
  // An earlier run's AWAITING_PAYMENT holds the row when this run's EXPIRED starts (its snapshot still says PENDING, no deadline).
  const expired = await behindAnUncommittedWrite(
    database.url,
    (other) =>
      other.query(`UPDATE orders SET status = 'AWAITING_PAYMENT', expires_at = $2, updated_at = now() WHERE id = $1`, [
        order.id,
        expiresAt,
      ]),
    () => orders.move({ orderId: order.id, to: 'EXPIRED', reason: 'not paid' }),
  );
  expect(expired).toMatchObject({ status: 'EXPIRED', expiresAt });
  expect(await orders.get(order.id)).toMatchObject({ status: 'EXPIRED', expiresAt });
});
