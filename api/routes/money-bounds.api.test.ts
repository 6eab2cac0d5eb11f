/**
 * Money is bounded (docs/design.md): prices, currencies, order totals, lines and quantities outside the
 * bounds get a 4xx with a code before any workflow starts, and change nothing; ids that are not
 * plain UUIDs and integers past int4 are 400, never a 500 from PostgreSQL.
 */
import { WorkflowNotFoundError } from '@temporalio/client';
import type { LightMyRequestResponse } from 'fastify';
import { randomUUID } from 'node:crypto';
import { MAX_ORDER_CENTS, MAX_PRICE_CENTS } from '../../lib/money';
import { orderIdFor } from '../order-placement';
import { startApiHarness, TEST_SETTINGS, type ApiHarness } from '../../test/helpers/api';
import { newProduct as newProductIn } from '../../test/helpers/checkouts';
import { notificationWorkflowId, orderWorkflowId } from '../../workflows/contract';

jest.setTimeout(60_000);

let api: ApiHarness;
beforeAll(async () => {
  // Orders live for an hour here: an order expiring mid-file would change rows a refusal is compared on.
  api = await startApiHarness({ app: { settings: { ...TEST_SETTINGS, orderTtlSeconds: 3_600 } } });
});
afterAll(async () => {
  await api?.close();
});

const newUser = () => `user-${randomUUID().slice(0, 8)}`;
const newProduct = (priceCents: number, available = 100_000) =>
  newProductIn(api.services.inventory, 'SKU', available, priceCents);
const createProduct = (body: Record<string, unknown>) =>
  api.as('admin', { method: 'POST', url: '/v1/products', payload: body }, 'admin');
const order = (userId: string, items: { productId: string; quantity: number }[], idempotencyKey?: string) =>
  api.as(userId, {
    method: 'POST',
    url: '/v1/orders',
    payload: { items },
    headers: idempotencyKey ? { 'idempotency-key': idempotencyKey } : {},
  });

/** Asserts the request was refused as invalid input: 400 VALIDATION_FAILED. */
function expectValidationFailed(response: LightMyRequestResponse): void {
  expect(response.statusCode).toBe(400);
  expect(response.json().error.code).toBe('VALIDATION_FAILED');
}

async function expectNoWorkflow(workflowId: string): Promise<void> {
  await expect(api.temporal.client.workflow.getHandle(workflowId).describe()).rejects.toBeInstanceOf(
    WorkflowNotFoundError,
  );
}

/** The snapshot's rows that name none of the ids (the barrier order's own rows are left out). */
function withoutRowsNaming(snapshot: Record<string, unknown[]>, ids: string[]): Record<string, unknown[]> {
  return Object.fromEntries(
    Object.entries(snapshot).map(([table, rows]) => [
      table,
      rows.filter((row) => !ids.some((id) => String(row).includes(id))),
    ]),
  );
}

/**
 * Places an order that must be refused (with an Idempotency-Key, so the workflow it would have
 * started has a known id), and proves it left no trace: no checkout workflow, no notification
 * workflow of its customer, no row changed. Its answer is not enough to look at once: a workflow
 * started before it would write afterwards. So a barrier order (another customer, another
 * product) is placed after the answer, through the same client and workers, and taken until its
 * status notification is stored; by then anything the refused request set going has run too.
 */
async function expectRefusedLeavingNoTrace(
  items: (product: { id: string }) => { productId: string; quantity: number }[],
  product: { id: string },
  refusal: [number, string],
): Promise<void> {
  const user = newUser();
  const key = `refused-${randomUUID()}`;
  const barrier = { customer: newUser(), product: await newProduct(1_000) };
  const barrierIds = [barrier.customer, barrier.product.id];
  const before = withoutRowsNaming(await api.snapshot(), barrierIds);

  const response = await order(user, items(product), key);
  expect([response.statusCode, response.json().error.code]).toEqual(refusal);
  // The same key again: the same answer, not a 500.
  const again = await order(user, items(product), key);
  expect([again.statusCode, again.json().error.code]).toEqual(refusal);

  const placed = await order(barrier.customer, [{ productId: barrier.product.id, quantity: 1 }]);
  expect(placed.statusCode).toBe(201);
  await api.settled(placed.json().id);

  await expectNoWorkflow(orderWorkflowId(orderIdFor(user, key)));
  await expectNoWorkflow(notificationWorkflowId(user));
  expect(withoutRowsNaming(await api.snapshot(), [...barrierIds, placed.json().id])).toEqual(before);
}

describe('prices and currencies', () => {
  it.each([
    ['a price past any integer column', 1e20],
    ['a price one cent above the maximum', MAX_PRICE_CENTS + 1],
    ['a fractional price', 10.5],
    ['a negative price', -1],
  ])('refuses %s with 400 and creates nothing', async (_name, priceCents) => {
    const sku = `BIG-${randomUUID().slice(0, 8)}`;
    const response = await createProduct({ sku, name: 'Too dear', priceCents, available: 1 });
    expectValidationFailed(response);
    expect((await api.services.inventory.listProducts()).some((p) => p.sku === sku)).toBe(false);
  });

  it('takes the maximum price and a listed two-decimal currency', async () => {
    const response = await createProduct({
      sku: `MAX-${randomUUID().slice(0, 8)}`,
      name: 'Dear',
      priceCents: MAX_PRICE_CENTS,
      currency: 'eur',
      available: 1,
    });
    expect(response.statusCode).toBe(201);
    expect(response.json()).toMatchObject({ priceCents: MAX_PRICE_CENTS, currency: 'eur' });
  });

  it.each(['jpy', 'kwd', 'xyz', 'USD'])('refuses the currency %s with 400', async (currency) => {
    const response = await createProduct({
      sku: `CUR-${randomUUID().slice(0, 8)}`,
      name: 'Foreign',
      priceCents: 100,
      currency,
      available: 1,
    });
    expectValidationFailed(response);
  });

  it('refuses a price above the maximum in PATCH', async () => {
    const product = await newProduct(100);
    const response = await api.as(
      'admin',
      { method: 'PATCH', url: `/v1/products/${product.id}`, payload: { version: 1, priceCents: 1e12 } },
      'admin',
    );
    expect(response.statusCode).toBe(400);
    expect((await api.services.inventory.getProduct(product.id))!.priceCents).toBe(100);
  });
});

describe('order totals', () => {
  it('refuses an order above the maximum with 422 ORDER_TOO_LARGE, with no workflow started and nothing changed', async () => {
    await expectRefusedLeavingNoTrace(
      (dear) => [{ productId: dear.id, quantity: 2 }],
      await newProduct(MAX_PRICE_CENTS),
      [422, 'ORDER_TOO_LARGE'],
    );
  });

  it('refuses the 2^31 overflow of the issue: 50 lines of 1,000 units of a $429.50 product', async () => {
    await expectRefusedLeavingNoTrace(
      (product) => Array.from({ length: 50 }, () => ({ productId: product.id, quantity: 1_000 })),
      await newProduct(42_950),
      [400, 'INVALID_QUANTITY'],
    );
  });

  it('refuses a total over the maximum spread across distinct lines', async () => {
    const products = await Promise.all(Array.from({ length: 3 }, () => newProduct(40_000_000)));
    await expectRefusedLeavingNoTrace(() => products.map((p) => ({ productId: p.id, quantity: 1 })), products[0]!, [
      422,
      'ORDER_TOO_LARGE',
    ]);
  });

  it('refuses an order below Stripe’s minimum with 422 ORDER_TOO_SMALL', async () => {
    await expectRefusedLeavingNoTrace((cheap) => [{ productId: cheap.id, quantity: 1 }], await newProduct(49), [
      422,
      'ORDER_TOO_SMALL',
    ]);
  });

  it('places an order of exactly the maximum total', async () => {
    const product = await newProduct(MAX_ORDER_CENTS);
    const response = await order(newUser(), [{ productId: product.id, quantity: 1 }]);
    expect(response.statusCode).toBe(201);
    expect(response.json()).toMatchObject({ totalCents: MAX_ORDER_CENTS, status: 'AWAITING_PAYMENT' });
  });

  it('refuses more than 50 products in a cart with 422 CART_FULL', async () => {
    const user = newUser();
    const products = await Promise.all(Array.from({ length: 51 }, () => newProduct(100)));
    for (const product of products.slice(0, 50)) {
      expect(
        (await api.as(user, { method: 'PUT', url: `/v1/cart/items/${product.id}`, payload: { quantity: 1 } }))
          .statusCode,
      ).toBe(200);
    }
    const full = await api.as(user, {
      method: 'PUT',
      url: `/v1/cart/items/${products[50]!.id}`,
      payload: { quantity: 1 },
    });
    expect(full.statusCode).toBe(422);
    expect(full.json().error.code).toBe('CART_FULL');
    // Changing an item already in a full cart is fine.
    expect(
      (await api.as(user, { method: 'PUT', url: `/v1/cart/items/${products[0]!.id}`, payload: { quantity: 3 } }))
        .statusCode,
    ).toBe(200);
  });
});

describe('ids and integers', () => {
  it.each([
    ['a urn:uuid id', '/v1/orders/urn:uuid:00000000-0000-4000-8000-000000000000'],
    ['a braced uuid', '/v1/orders/{00000000-0000-4000-8000-000000000000}'],
    ['a uuid without hyphens', '/v1/orders/000000000000400080000000000000000'],
    ['a uuid with a trailing newline', '/v1/orders/00000000-0000-4000-8000-000000000000%0A'],
  ])('answers %s with 400, not 500', async (_name, url) => {
    const response = await api.as(newUser(), { method: 'GET', url });
    expectValidationFailed(response);
  });

  it('answers a version past int4 with 400', async () => {
    const product = await newProduct(100);
    const response = await api.as(
      'admin',
      { method: 'PATCH', url: `/v1/products/${product.id}`, payload: { version: 1e20, name: 'x' } },
      'admin',
    );
    expectValidationFailed(response);
  });
});
