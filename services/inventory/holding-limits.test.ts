/**
 * Holding limits at the reservation (docs/design.md "Holding limits"): one customer's orders,
 * however many arrive at once, never hold more unpaid than their plan allows, and a refused order
 * reserves nothing.
 */
import { randomUUID } from 'node:crypto';
import { DomainError } from '../../lib/errors';
import type { HoldingLimits } from '../../lib/holding-limits';
import { useServiceDatabase } from '../../test/helpers/databases';
import { newProduct as newProductIn } from '../../test/helpers/checkouts';
import { errorOf } from '../../test/helpers/rejections';
import { createInventoryDb, type InventoryDb } from './db';
import { InventoryService, type ProductView } from './inventory.service';

// Twenty transactions queue on one customer's lock: seconds on a busy machine.
jest.setTimeout(30_000);

let db: InventoryDb;
let inventory: InventoryService;
useServiceDatabase('inventory', createInventoryDb, (opened) => {
  db = opened;
  inventory = new InventoryService(opened);
});

const LIMITS: HoldingLimits = {
  plan: 'free',
  maxUnpaidOrders: 3,
  maxHeldUnitsPerProduct: 10,
  maxStockSharePercent: 50,
};

const newProduct = (available: number): Promise<ProductView> => newProductIn(inventory, 'HOLD', available, 1_000);
const newCustomer = () => `holder-${randomUUID().slice(0, 8)}`;

function reserve(customerId: string, productId: string, quantity: number, limits: HoldingLimits = LIMITS) {
  return inventory.reserve({
    orderId: randomUUID(),
    customerId,
    holdingLimits: limits,
    lines: [{ productId, quantity }],
  });
}

async function stock(productId: string) {
  const { available, reserved } = await db.product.findUniqueOrThrow({ where: { id: productId } });
  return { available, reserved };
}

function refusals(outcomes: PromiseSettledResult<unknown>[]): string[] {
  return outcomes.flatMap((outcome) =>
    outcome.status === 'rejected' ? [(outcome.reason as DomainError).code ?? String(outcome.reason)] : [],
  );
}

test("20 concurrent orders of one customer: exactly the plan's unpaid orders reserve, the rest are refused HOLD_LIMIT_REACHED", async () => {
  const product = await newProduct(1_000);
  const customer = newCustomer();
  const outcomes = await Promise.allSettled(Array.from({ length: 20 }, () => reserve(customer, product.id, 1)));

  expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(LIMITS.maxUnpaidOrders);
  expect(refusals(outcomes)).toEqual(Array(20 - LIMITS.maxUnpaidOrders).fill('HOLD_LIMIT_REACHED'));
  expect(await stock(product.id)).toEqual({
    available: 1_000 - LIMITS.maxUnpaidOrders,
    reserved: LIMITS.maxUnpaidOrders,
  });
  // Another customer is not held back by the first one's limit.
  await expect(reserve(newCustomer(), product.id, 1)).resolves.toMatchObject({ status: 'HELD' });
});

test('concurrent orders of one customer never hold more units of one product than the plan allows', async () => {
  const product = await newProduct(1_000);
  const customer = newCustomer();
  // 3 orders of 4 units each: 8 fit under 10 units, the third would make 12.
  const outcomes = await Promise.allSettled(Array.from({ length: 3 }, () => reserve(customer, product.id, 4)));
  expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(2);
  expect(refusals(outcomes)).toEqual(['HOLD_LIMIT_REACHED']);
  expect((await stock(product.id)).reserved).toBe(8);
});

test('the refusal names the limit and reserves nothing', async () => {
  const product = await newProduct(1_000);
  const customer = newCustomer();
  await reserve(customer, product.id, 10);
  const before = await stock(product.id);
  const orderId = randomUUID();
  const error = await errorOf(
    DomainError,
    inventory.reserve({
      orderId,
      customerId: customer,
      holdingLimits: LIMITS,
      lines: [{ productId: product.id, quantity: 1 }],
    }),
  );
  expect(error.code).toBe('HOLD_LIMIT_REACHED');
  expect(error.message).toContain('10 units');
  expect(error.details).toMatchObject({ limit: 10, held: 10, requested: 1 });
  expect(await stock(product.id)).toEqual(before);
  expect(await inventory.findReservation(orderId)).toBeNull();
});

test("a share of the product's unsold stock caps a customer below the plan's units, and at least one unit is always allowed", async () => {
  const scarce = await newProduct(8);
  const customer = newCustomer();
  // 50 % of 8 is 4 units.
  await reserve(customer, scarce.id, 3);
  const error = await errorOf(DomainError, reserve(customer, scarce.id, 2));
  expect(error.code).toBe('HOLD_LIMIT_REACHED');
  expect(error.message).toContain('50%');
  expect(error.details).toMatchObject({ limit: 4, held: 3 });
  await expect(reserve(customer, scarce.id, 1)).resolves.toMatchObject({ status: 'HELD' });

  const last = await newProduct(1);
  await expect(reserve(newCustomer(), last.id, 1)).resolves.toMatchObject({ status: 'HELD' });
});

test('an order asking more than is available is refused OUT_OF_STOCK, not for a limit', async () => {
  const product = await newProduct(2);
  const error = await errorOf(DomainError, reserve(newCustomer(), product.id, 3));
  expect(error.code).toBe('OUT_OF_STOCK');
});

test('units given back (an order released) no longer count; committed (paid) ones neither', async () => {
  const product = await newProduct(1_000);
  const customer = newCustomer();
  const limits = { ...LIMITS, maxUnpaidOrders: 1 };
  const first = await reserve(customer, product.id, 1, limits);
  await expect(reserve(customer, product.id, 1, limits)).rejects.toMatchObject({ code: 'HOLD_LIMIT_REACHED' });
  await inventory.release(first.orderId);
  const second = await reserve(customer, product.id, 1, limits);
  await inventory.commit(second.orderId);
  await expect(reserve(customer, product.id, 1, limits)).resolves.toMatchObject({ status: 'HELD' });
});

test("checkHoldingLimits, the API's early answer, refuses what the reservation would", async () => {
  const product = await newProduct(1_000);
  const customer = newCustomer();
  await reserve(customer, product.id, 10);
  await expect(
    inventory.checkHoldingLimits(customer, [{ productId: product.id, quantity: 1 }], LIMITS),
  ).rejects.toMatchObject({ code: 'HOLD_LIMIT_REACHED' });
  await expect(
    inventory.checkHoldingLimits(newCustomer(), [{ productId: product.id, quantity: 10 }], LIMITS),
  ).resolves.toBeUndefined();
});
