import { randomUUID } from 'node:crypto';
import { behindAnUncommittedWrite } from '../../test/helpers/lock-waits';
import { DomainError } from '../../lib/errors';
import { useServiceDatabase } from '../../test/helpers/databases';
import { newProduct as newProductIn } from '../../test/helpers/checkouts';
import { errorOf } from '../../test/helpers/rejections';
import { createInventoryDb, type InventoryDb } from './db';
import { InventoryService, type ProductView } from './inventory.service';
import { MOVE_RESERVATION } from './stock-steps.sql';

// Races of 50 transactions queue for a pool of a few connections: seconds on a busy 2-core machine.
jest.setTimeout(30_000);

let db: InventoryDb;
let inventory: InventoryService;
const database = useServiceDatabase('inventory', createInventoryDb, (opened) => {
  db = opened;
  inventory = new InventoryService(opened);
});

const newProduct = (available: number, priceCents = 1500): Promise<ProductView> =>
  newProductIn(inventory, 'SKU', available, priceCents);

async function stock(productId: string): Promise<{ available: number; reserved: number; sold: number }> {
  const { available, reserved, sold } = await db.product.findUniqueOrThrow({ where: { id: productId } });
  return { available, reserved, sold };
}

/** The DomainError a reservation of `lines` for the order is refused with. */
function refusedReservation(orderId: string, lines: { productId: string; quantity: number }[]): Promise<DomainError> {
  return errorOf(DomainError, inventory.reserve({ orderId, lines }));
}

async function expectConserved(productId: string, initial: number): Promise<void> {
  const s = await stock(productId);
  expect(s.available).toBeGreaterThanOrEqual(0);
  expect(s.reserved).toBeGreaterThanOrEqual(0);
  expect(s.sold).toBeGreaterThanOrEqual(0);
  expect(s.available + s.reserved + s.sold).toBe(initial);
}

test('50 concurrent orders of 1 unit against 10 available: exactly 10 reserve, 40 are out of stock', async () => {
  const product = await newProduct(10);
  // Samples the stock while the race runs: no reading may ever see a negative bucket or lost units.
  let racing = true;
  const samples: { available: number; reserved: number; sold: number }[] = [];
  const sampler = (async () => {
    while (racing) samples.push(await stock(product.id));
  })();

  const orderIds = Array.from({ length: 50 }, () => randomUUID());
  const outcomes = await Promise.allSettled(
    orderIds.map((orderId) => inventory.reserve({ orderId, lines: [{ productId: product.id, quantity: 1 }] })),
  );
  racing = false;
  await sampler;

  const succeeded = outcomes.filter((o) => o.status === 'fulfilled');
  const failed = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
  expect(succeeded).toHaveLength(10);
  expect(failed).toHaveLength(40);
  for (const failure of failed) {
    expect(failure.reason).toBeInstanceOf(DomainError);
    expect((failure.reason as DomainError).code).toBe('OUT_OF_STOCK');
    expect((failure.reason as DomainError).details).toMatchObject({ productId: product.id, requested: 1 });
  }
  expect(await stock(product.id)).toEqual({ available: 0, reserved: 10, sold: 0 });
  expect(samples.length).toBeGreaterThan(0);
  for (const s of samples) {
    expect(s.available).toBeGreaterThanOrEqual(0);
    expect(s.available + s.reserved + s.sold).toBe(10);
  }
  // Only the winners hold a reservation; the losers left nothing behind.
  expect(await db.reservation.count({ where: { orderId: { in: orderIds } } })).toBe(10);
  expect(await db.reservationLine.aggregate({ _sum: { quantity: true }, where: { productId: product.id } })).toEqual({
    _sum: { quantity: 10 },
  });
  expect((await inventory.getProduct(product.id))?.available).toBe(0);
});

test('the same order reserving twice, one after the other and concurrently, reserves once', async () => {
  const product = await newProduct(5);
  const orderId = randomUUID();
  const input = { orderId, lines: [{ productId: product.id, quantity: 2 }] };

  const first = await inventory.reserve(input);
  const again = await inventory.reserve(input);
  expect(first).toEqual({ orderId, status: 'HELD', lines: [{ productId: product.id, quantity: 2 }] });
  expect(again).toEqual(first);
  expect(await stock(product.id)).toEqual({ available: 3, reserved: 2, sold: 0 });

  const racedOrder = randomUUID();
  const raced = await Promise.all(
    Array.from({ length: 8 }, () =>
      inventory.reserve({ orderId: racedOrder, lines: [{ productId: product.id, quantity: 1 }] }),
    ),
  );
  for (const r of raced)
    expect(r).toEqual({ orderId: racedOrder, status: 'HELD', lines: [{ productId: product.id, quantity: 1 }] });
  expect(await stock(product.id)).toEqual({ available: 2, reserved: 3, sold: 0 });
  expect(await db.reservation.count({ where: { orderId: racedOrder } })).toBe(1);
});

test('lines of the same product are merged into one reservation line', async () => {
  const product = await newProduct(5);
  const orderId = randomUUID();
  const reservation = await inventory.reserve({
    orderId,
    lines: [
      { productId: product.id, quantity: 1 },
      { productId: product.id, quantity: 2 },
    ],
  });
  expect(reservation.lines).toEqual([{ productId: product.id, quantity: 3 }]);
  expect(await stock(product.id)).toEqual({ available: 2, reserved: 3, sold: 0 });
});

test('a multi-line order that cannot get one line reserves nothing', async () => {
  const plenty = await newProduct(10);
  const scarce = await newProduct(1);
  const orderId = randomUUID();

  const error = await refusedReservation(orderId, [
    { productId: plenty.id, quantity: 3 },
    { productId: scarce.id, quantity: 2 },
  ]);
  expect(error.code).toBe('OUT_OF_STOCK');
  expect(error.details).toMatchObject({ productId: scarce.id, sku: scarce.sku, available: 1, requested: 2 });
  expect(await stock(plenty.id)).toEqual({ available: 10, reserved: 0, sold: 0 });
  expect(await stock(scarce.id)).toEqual({ available: 1, reserved: 0, sold: 0 });
  expect(await inventory.findReservation(orderId)).toBeNull();

  // The failed order left no trace: the same order may try again once it asks for less.
  const retried = await inventory.reserve({
    orderId,
    lines: [
      { productId: plenty.id, quantity: 3 },
      { productId: scarce.id, quantity: 1 },
    ],
  });
  expect(retried.status).toBe('HELD');
  expect(await stock(plenty.id)).toEqual({ available: 7, reserved: 3, sold: 0 });
  expect(await stock(scarce.id)).toEqual({ available: 0, reserved: 1, sold: 0 });
});

test('two multi-line orders locking the same products in opposite line order both succeed (no deadlock)', async () => {
  const a = await newProduct(100);
  const b = await newProduct(100);
  const orders = Array.from({ length: 20 }, (_, i) => ({
    orderId: randomUUID(),
    lines:
      i % 2 === 0
        ? [
            { productId: a.id, quantity: 1 },
            { productId: b.id, quantity: 1 },
          ]
        : [
            { productId: b.id, quantity: 1 },
            { productId: a.id, quantity: 1 },
          ],
  }));
  await Promise.all(orders.map((order) => inventory.reserve(order)));
  expect(await stock(a.id)).toEqual({ available: 80, reserved: 20, sold: 0 });
  expect(await stock(b.id)).toEqual({ available: 80, reserved: 20, sold: 0 });
});

test('release gives held units back, is idempotent, and is a no-op for an order that never reserved', async () => {
  const product = await newProduct(6);
  const orderId = randomUUID();
  await inventory.reserve({ orderId, lines: [{ productId: product.id, quantity: 4 }] });
  await expectConserved(product.id, 6);

  expect(await inventory.release(randomUUID())).toBeNull();
  expect(await stock(product.id)).toEqual({ available: 2, reserved: 4, sold: 0 });

  const released = await inventory.release(orderId);
  expect(released).toEqual({ orderId, status: 'RELEASED', lines: [{ productId: product.id, quantity: 4 }] });
  expect(await stock(product.id)).toEqual({ available: 6, reserved: 0, sold: 0 });

  expect(await inventory.release(orderId)).toBeNull();
  const concurrent = await Promise.all([inventory.release(orderId), inventory.release(orderId)]);
  expect(concurrent).toEqual([null, null]);
  expect(await stock(product.id)).toEqual({ available: 6, reserved: 0, sold: 0 });
  expect((await inventory.findReservation(orderId))?.status).toBe('RELEASED');

  // A released reservation stays released: a late retry of reserve does not take the units again.
  expect((await inventory.reserve({ orderId, lines: [{ productId: product.id, quantity: 4 }] })).status).toBe(
    'RELEASED',
  );
  expect(await stock(product.id)).toEqual({ available: 6, reserved: 0, sold: 0 });
});

test('concurrent releases of one order give the units back once', async () => {
  const product = await newProduct(5);
  const orderId = randomUUID();
  await inventory.reserve({ orderId, lines: [{ productId: product.id, quantity: 3 }] });
  const results = await Promise.all(Array.from({ length: 6 }, () => inventory.release(orderId)));
  expect(results.filter((r) => r !== null)).toHaveLength(1);
  expect(await stock(product.id)).toEqual({ available: 5, reserved: 0, sold: 0 });
});

/** Runs `step` while another connection has moved the order's reservation to `to` and not yet committed. */
function behindAnUncommittedMove<T>(orderId: string, to: 'COMMITTED' | 'RELEASED', step: () => Promise<T>) {
  return behindAnUncommittedWrite(
    database.url,
    (mover) => mover.query(MOVE_RESERVATION, [orderId, ['HELD'], to]),
    step,
  );
}

test('a release that waited for a concurrent release gives nothing back; one that waited for the commit gives back the sold units', async () => {
  const product = await newProduct(5);
  const released = randomUUID();
  await inventory.reserve({ orderId: released, lines: [{ productId: product.id, quantity: 3 }] });
  expect(await behindAnUncommittedMove(released, 'RELEASED', () => inventory.release(released))).toBeNull();
  expect(await stock(product.id)).toEqual({ available: 5, reserved: 0, sold: 0 });

  const paid = randomUUID();
  await inventory.reserve({ orderId: paid, lines: [{ productId: product.id, quantity: 2 }] });
  expect(await behindAnUncommittedMove(paid, 'COMMITTED', () => inventory.release(paid))).toMatchObject({
    status: 'RELEASED',
  });
  expect(await stock(product.id)).toEqual({ available: 5, reserved: 0, sold: 0 });
});

test('commit moves reserved to sold, is idempotent, and release after commit gives the sold units back', async () => {
  const product = await newProduct(8);
  const other = await newProduct(3);
  const orderId = randomUUID();
  await inventory.reserve({
    orderId,
    lines: [
      { productId: product.id, quantity: 5 },
      { productId: other.id, quantity: 1 },
    ],
  });
  await expectConserved(product.id, 8);

  const committed = await inventory.commit(orderId);
  expect(committed.status).toBe('COMMITTED');
  expect(await stock(product.id)).toEqual({ available: 3, reserved: 0, sold: 5 });
  expect(await stock(other.id)).toEqual({ available: 2, reserved: 0, sold: 1 });

  const twice = await Promise.all([inventory.commit(orderId), inventory.commit(orderId)]);
  for (const c of twice) expect(c.status).toBe('COMMITTED');
  expect(await stock(product.id)).toEqual({ available: 3, reserved: 0, sold: 5 });
  await expectConserved(product.id, 8);

  // A later saga step failed: the compensation gives the sold units back.
  expect((await inventory.release(orderId))?.status).toBe('RELEASED');
  expect(await stock(product.id)).toEqual({ available: 8, reserved: 0, sold: 0 });
  expect(await stock(other.id)).toEqual({ available: 3, reserved: 0, sold: 0 });
  expect(await inventory.release(orderId)).toBeNull();
  expect(await stock(product.id)).toEqual({ available: 8, reserved: 0, sold: 0 });

  expect((await errorOf(DomainError, inventory.commit(orderId))).code).toBe('RESERVATION_RELEASED');
  expect((await errorOf(DomainError, inventory.commit(randomUUID()))).code).toBe('RESERVATION_NOT_FOUND');
  await expectConserved(product.id, 8);
});

test('stock is conserved through a mixed run of reserves, commits and releases', async () => {
  const product = await newProduct(30);
  const orders = Array.from({ length: 24 }, () => randomUUID());
  const reserved = await Promise.allSettled(
    orders.map((orderId) => inventory.reserve({ orderId, lines: [{ productId: product.id, quantity: 2 }] })),
  );
  expect(reserved.filter((r) => r.status === 'fulfilled')).toHaveLength(15);
  await expectConserved(product.id, 30);

  const holders = orders.filter((_, i) => reserved[i]?.status === 'fulfilled');
  await Promise.all(
    holders.map((orderId, i) =>
      i % 3 === 0
        ? inventory.commit(orderId)
        : i % 3 === 1
          ? inventory.release(orderId)
          : inventory.commit(orderId).then(() => inventory.release(orderId)),
    ),
  );
  await expectConserved(product.id, 30);
  expect(await stock(product.id)).toEqual({ available: 30 - 10, reserved: 0, sold: 10 });
});

test('updateProduct applies with the current version and refuses a stale one without changing anything', async () => {
  const product = await newProduct(4, 1000);
  expect(product.version).toBe(1);

  const updated = await inventory.updateProduct(product.id, { version: 1, name: 'Renamed', priceCents: 1200 });
  expect(updated).toMatchObject({ name: 'Renamed', priceCents: 1200, available: 4, version: 2 });

  const error = await errorOf(DomainError, inventory.updateProduct(product.id, { version: 1, priceCents: 1 }));
  expect(error.code).toBe('VERSION_CONFLICT');
  expect(error.details).toEqual({ currentVersion: 2 });
  expect(await inventory.getProduct(product.id)).toEqual(updated);

  // Two admins editing from the same version: exactly one wins.
  const raced = await Promise.allSettled([
    inventory.updateProduct(product.id, { version: 2, priceCents: 2000 }),
    inventory.updateProduct(product.id, { version: 2, priceCents: 3000 }),
  ]);
  expect(raced.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
  const loser = raced.find((r): r is PromiseRejectedResult => r.status === 'rejected')!;
  expect((loser.reason as DomainError).code).toBe('VERSION_CONFLICT');
  expect((await inventory.getProduct(product.id))?.version).toBe(3);

  expect((await errorOf(DomainError, inventory.updateProduct(randomUUID(), { version: 1, name: 'x' }))).code).toBe(
    'PRODUCT_NOT_FOUND',
  );
});

test('reserving an unknown product is UNKNOWN_PRODUCT and reserves nothing else', async () => {
  const product = await newProduct(5);
  const missing = randomUUID();
  const orderId = randomUUID();
  const error = await refusedReservation(orderId, [
    { productId: product.id, quantity: 1 },
    { productId: missing, quantity: 1 },
  ]);
  expect(error.code).toBe('UNKNOWN_PRODUCT');
  expect(error.details).toEqual({ productId: missing });
  expect(await stock(product.id)).toEqual({ available: 5, reserved: 0, sold: 0 });
  expect(await inventory.findReservation(orderId)).toBeNull();
});

test('a duplicate SKU is SKU_TAKEN', async () => {
  const product = await newProduct(1);
  expect(
    (
      await errorOf(
        DomainError,
        inventory.createProduct({ sku: product.sku, name: 'dup', priceCents: 1, available: 1 }),
      )
    ).code,
  ).toBe('SKU_TAKEN');
});

async function ledgerTotal(productId: string): Promise<number> {
  const adjustments = await db.stockAdjustment.findMany({ where: { productId } });
  return adjustments.reduce((sum, a) => sum + a.delta, 0);
}

test('stock adjustments racing reservations never give reserved units back, oversell, or lose a unit from the ledger', async () => {
  const product = await newProduct(100);
  // An admin's view from before the race: whatever it says, a delta cannot undo a reservation.
  const staleRead = await inventory.getProduct(product.id);
  const orders = Array.from({ length: 20 }, () => randomUUID());
  const deltas = [10, -3, 25, -7, 5, -1, 4, -2];
  const outcomes = await Promise.allSettled([
    ...orders.map((orderId) => inventory.reserve({ orderId, lines: [{ productId: product.id, quantity: 5 }] })),
    ...deltas.map((delta, i) => inventory.adjustStock({ productId: product.id, delta, reason: `race ${i}` })),
  ]);
  expect(staleRead!.available).toBe(100);
  // Which ones lose depends on the order they ran in (a write-off after the reservations took
  // everything is refused, as is a reservation after write-offs took its units): the invariant
  // does not. A refusal is one of the two the service gives for too little stock, nothing else.
  const reservations = outcomes.slice(0, orders.length);
  const adjustments = outcomes.slice(orders.length);
  const refusedWith = (results: PromiseSettledResult<unknown>[]) =>
    results
      .filter((o): o is PromiseRejectedResult => o.status === 'rejected')
      .map((o) => (o.reason instanceof DomainError ? o.reason.code : String(o.reason)));
  expect(refusedWith(reservations).filter((code) => code !== 'OUT_OF_STOCK')).toEqual([]);
  expect(refusedWith(adjustments).filter((code) => code !== 'INSUFFICIENT_STOCK')).toEqual([]);
  // Only a write-off can refuse a reservation, and the write-offs come to 13 units: at most 3 of 5.
  const granted = orders.filter((_, i) => reservations[i]!.status === 'fulfilled');
  expect(granted.length).toBeGreaterThanOrEqual(17);
  const added = deltas.filter((_, i) => adjustments[i]!.status === 'fulfilled').reduce((sum, d) => sum + d, 0);

  // Nothing oversold, nothing lost: the stock is what the ledger and the granted reservations say.
  expect(await stock(product.id)).toEqual({
    available: 100 + added - granted.length * 5,
    reserved: granted.length * 5,
    sold: 0,
  });
  expect((await stock(product.id)).available).toBeGreaterThanOrEqual(0);
  await expectConserved(product.id, 100 + added);
  expect(await ledgerTotal(product.id)).toBe(100 + added);
  // Every granted reservation is still whole; a refused one left nothing behind.
  const held = await Promise.all(orders.map((orderId) => inventory.findReservation(orderId)));
  expect(held.map((r) => r?.status ?? 'none')).toEqual(
    orders.map((orderId) => (granted.includes(orderId) ? 'HELD' : 'none')),
  );
}, 30_000); // 28 transactions at once: seconds on a loaded 2-core machine

test('taking away more than is available is INSUFFICIENT_STOCK and changes nothing; reserved units cannot be taken', async () => {
  const product = await newProduct(10);
  await inventory.reserve({ orderId: randomUUID(), lines: [{ productId: product.id, quantity: 8 }] });
  const error = await errorOf(
    DomainError,
    inventory.adjustStock({ productId: product.id, delta: -3, reason: 'write-off' }),
  );
  expect(error.code).toBe('INSUFFICIENT_STOCK');
  expect(error.details).toEqual({ available: 2 });
  expect(await stock(product.id)).toEqual({ available: 2, reserved: 8, sold: 0 });
  expect(await ledgerTotal(product.id)).toBe(10);

  expect((await inventory.adjustStock({ productId: product.id, delta: -2, reason: 'write-off' })).available).toBe(0);
  expect(await ledgerTotal(product.id)).toBe(8);
  expect(
    (await errorOf(DomainError, inventory.adjustStock({ productId: randomUUID(), delta: 1, reason: 'x' }))).code,
  ).toBe('PRODUCT_NOT_FOUND');
  expect(
    (await errorOf(DomainError, inventory.adjustStock({ productId: product.id, delta: 1_000_001, reason: 'x' }))).code,
  ).toBe('STOCK_LIMIT');
});

test('products created in a batch each have their opening stock in the ledger; a taken SKU refuses the whole batch', async () => {
  const prefix = `BATCH-${randomUUID().slice(0, 6)}`;
  const created = await inventory.createProducts([
    { sku: `${prefix}-1`, name: 'Oak desk', priceCents: 1000, available: 7 },
    { sku: `${prefix}-2`, name: 'Oak chair', priceCents: 500, available: 0 },
  ]);
  expect(created.map((product) => [product.sku, product.available])).toEqual([
    [`${prefix}-1`, 7],
    [`${prefix}-2`, 0],
  ]);
  expect(await ledgerTotal(created[0]!.id)).toBe(7);
  expect(await ledgerTotal(created[1]!.id)).toBe(0);

  const refused = await errorOf(
    DomainError,
    inventory.createProducts([
      { sku: `${prefix}-3`, name: 'Oak lamp', priceCents: 900, available: 3 },
      { sku: `${prefix}-1`, name: 'Oak desk again', priceCents: 1000, available: 1 },
    ]),
  );
  expect(refused.code).toBe('SKU_TAKEN');
  expect(await db.product.count({ where: { sku: `${prefix}-3` } })).toBe(0);
});

test('a batch of reservations takes every unit it holds, and none when one product has too few', async () => {
  const plenty = await newProduct(10);
  const scarce = await newProduct(1);
  const [first, second] = [randomUUID(), randomUUID()];
  await inventory.reserveMany([
    { orderId: first, lines: [{ productId: plenty.id, quantity: 2 }] },
    { orderId: second, lines: [{ productId: plenty.id, quantity: 3 }] },
  ]);
  expect(await stock(plenty.id)).toEqual({ available: 5, reserved: 5, sold: 0 });
  expect((await inventory.findReservation(second))?.lines).toEqual([{ productId: plenty.id, quantity: 3 }]);

  const refused = await errorOf(
    DomainError,
    inventory.reserveMany([
      { orderId: randomUUID(), lines: [{ productId: plenty.id, quantity: 1 }] },
      { orderId: randomUUID(), lines: [{ productId: scarce.id, quantity: 2 }] },
    ]),
  );
  expect(refused.code).toBe('OUT_OF_STOCK');
  expect(await stock(plenty.id)).toEqual({ available: 5, reserved: 5, sold: 0 });
  await expectConserved(plenty.id, 10);
});
