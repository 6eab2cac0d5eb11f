import { randomUUID } from 'node:crypto';
import { behindAnUncommittedWrite } from '../../test/helpers/lock-waits';
import { useServiceDatabase } from '../../test/helpers/databases';
import { CartService } from './cart.service';
import { createCartDb, type CartDb } from './db';

let db: CartDb;
let carts: CartService;
const database = useServiceDatabase('cart', createCartDb, (opened) => {
  db = opened;
  carts = new CartService(opened);
});

/** The cart view the service answers with: these items at this total, in dollars. */
const cart = (totalCents: number, ...items: { productId: string; quantity: number; priceCents: number }[]) => ({
  items,
  totalCents,
  currency: 'usd',
});

// Product ids in ascending order, so the cart lists them in this order.
const MUG = '00000000-0000-4000-8000-000000000001';
const CAP = '00000000-0000-4000-8000-000000000002';
const TEE = '00000000-0000-4000-8000-000000000003';

test('an unknown user has an empty cart', async () => {
  expect(await carts.get('nobody')).toEqual(cart(0));
});

test('setItem adds and replaces quantities, 0 and removeItem remove, totals follow', async () => {
  const user = 'shopper';
  expect(await carts.setItem(user, { productId: CAP, quantity: 2, priceCents: 1999 })).toEqual(
    cart(3998, { productId: CAP, quantity: 2, priceCents: 1999 }),
  );
  await carts.setItem(user, { productId: MUG, quantity: 3, priceCents: 1250 });
  // Setting again replaces the quantity (and the price seen), it does not add to it.
  const replaced = await carts.setItem(user, { productId: CAP, quantity: 1, priceCents: 1800 });
  expect(replaced).toEqual(
    cart(
      3 * 1250 + 1800,
      { productId: MUG, quantity: 3, priceCents: 1250 },
      { productId: CAP, quantity: 1, priceCents: 1800 },
    ),
  );

  const zeroed = await carts.setItem(user, { productId: MUG, quantity: 0, priceCents: 1250 });
  expect(zeroed).toEqual(cart(1800, { productId: CAP, quantity: 1, priceCents: 1800 }));
  expect(await carts.removeItem(user, CAP)).toEqual(cart(0));
  // Removing what is not there is harmless.
  expect(await carts.removeItem(user, TEE)).toEqual(cart(0));
  expect(await carts.setItem(user, { productId: TEE, quantity: 0, priceCents: 500 })).toEqual(cart(0));
});

test("carts are per user: one user's changes never touch another's cart", async () => {
  await carts.setItem('ann', { productId: MUG, quantity: 1, priceCents: 1000 });
  await carts.setItem('ben', { productId: MUG, quantity: 5, priceCents: 1000 });
  await carts.removeItem('ann', MUG);
  expect(await carts.get('ann')).toEqual(cart(0));
  expect((await carts.get('ben')).items).toEqual([{ productId: MUG, quantity: 5, priceCents: 1000 }]);
  await carts.clearForOrder({ orderId: randomUUID(), userId: 'ann', lines: [{ productId: MUG, quantity: 5 }] });
  expect((await carts.get('ben')).items).toEqual([{ productId: MUG, quantity: 5, priceCents: 1000 }]);
});

test('clearForOrder removes only the ordered quantities and is idempotent', async () => {
  const user = 'buyer';
  await carts.setItem(user, { productId: MUG, quantity: 2, priceCents: 1250 });
  await carts.setItem(user, { productId: CAP, quantity: 5, priceCents: 1999 });
  const orderId = randomUUID();
  const ordered = [
    { productId: MUG, quantity: 2 },
    { productId: CAP, quantity: 3 },
  ];
  // Added after the order was placed: must stay.
  await carts.setItem(user, { productId: TEE, quantity: 1, priceCents: 900 });

  expect(await carts.clearForOrder({ orderId, userId: user, lines: ordered })).toEqual({ cleared: true });
  const after = await carts.get(user);
  expect(after).toEqual(
    cart(
      2 * 1999 + 900,
      { productId: CAP, quantity: 2, priceCents: 1999 },
      { productId: TEE, quantity: 1, priceCents: 900 },
    ),
  );

  expect(await carts.clearForOrder({ orderId, userId: user, lines: ordered })).toEqual({ cleared: false });
  expect(await carts.get(user)).toEqual(after);
  expect(await db.cartClearing.count({ where: { orderId } })).toBe(1);
});

test('clearForOrder leaves nothing negative when the cart holds less than was ordered', async () => {
  const user = 'changed-mind';
  await carts.setItem(user, { productId: MUG, quantity: 3, priceCents: 1250 });
  await carts.setItem(user, { productId: CAP, quantity: 4, priceCents: 1999 });
  // The user lowered the quantity after ordering 3; the order's MUG line takes the rest.
  await carts.setItem(user, { productId: MUG, quantity: 1, priceCents: 1250 });
  await carts.clearForOrder({
    orderId: randomUUID(),
    userId: user,
    lines: [
      { productId: MUG, quantity: 3 },
      { productId: CAP, quantity: 4 },
      { productId: TEE, quantity: 1 },
    ],
  });
  expect(await carts.get(user)).toEqual(cart(0));
  expect(await db.cartItem.count({ where: { userId: user } })).toBe(0);
});

test('concurrent clears of one order clear once', async () => {
  const user = 'racer';
  await carts.setItem(user, { productId: MUG, quantity: 10, priceCents: 100 });
  const orderId = randomUUID();
  const results = await Promise.all(
    Array.from({ length: 8 }, () =>
      carts.clearForOrder({ orderId, userId: user, lines: [{ productId: MUG, quantity: 2 }] }),
    ),
  );
  expect(results.filter((r) => r.cleared)).toHaveLength(1);
  expect(results.filter((r) => !r.cleared)).toHaveLength(7);
  expect((await carts.get(user)).items).toEqual([{ productId: MUG, quantity: 8, priceCents: 100 }]);

  // A different order of the same user is cleared on its own.
  expect(
    await carts.clearForOrder({ orderId: randomUUID(), userId: user, lines: [{ productId: MUG, quantity: 2 }] }),
  ).toEqual({ cleared: true });
  expect((await carts.get(user)).items).toEqual([{ productId: MUG, quantity: 6, priceCents: 100 }]);
});

test('an edit that commits while the clear waits for its item is counted: the ordered units leave what the edit left', async () => {
  const user = 'edits-while-paying';
  await carts.setItem(user, { productId: MUG, quantity: 2, priceCents: 1250 });
  // The customer raises the mug to 5 in another tab; the clear of the order that bought 2 starts
  // meanwhile (its snapshot still says 2) and waits for the edit's lock.
  const cleared = await behindAnUncommittedWrite(
    database.url,
    (editor) => editor.query(`UPDATE cart_items SET quantity = 5 WHERE user_id = $1`, [user]),
    () => carts.clearForOrder({ orderId: randomUUID(), userId: user, lines: [{ productId: MUG, quantity: 2 }] }),
  );
  expect(cleared).toEqual({ cleared: true });
  expect((await carts.get(user)).items).toEqual([{ productId: MUG, quantity: 3, priceCents: 1250 }]);
});
