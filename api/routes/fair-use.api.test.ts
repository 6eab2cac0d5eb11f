/**
 * Fair use of the store through the API. Holding limits (docs/design.md "Holding limits"): a free
 * account cannot hold a product's stock in unpaid orders, however fast it orders; the refusal is
 * 409 HOLD_LIMIT_REACHED with the limit in its message, and other customers can still buy. A
 * payment method is a Stripe PaymentMethod id: card data is refused before anything is stored.
 * Behind a proxy (TRUST_PROXY), per-address limits count clients, not the proxy.
 */
import { randomUUID } from 'node:crypto';
import { buildAppBeside, startApiHarness, TEST_SETTINGS, type ApiHarness } from '../../test/helpers/api';
import type { TrustProxy } from '../../lib/trust-proxy';
import { newProduct } from '../../test/helpers/checkouts';

jest.setTimeout(90_000);

let api: ApiHarness;
beforeAll(async () => {
  api = await startApiHarness();
});
afterAll(async () => {
  await api?.close();
});

const newUser = () => `holder-${randomUUID().slice(0, 8)}`;
const available = async (productId: string) => (await api.services.inventory.getProduct(productId))!.available;
const order = (userId: string, productId: string, quantity: number) =>
  api.as(userId, { method: 'POST', url: '/v1/orders', payload: { items: [{ productId, quantity }] } });

test("a free account's second order of 10 units of a 100-unit product is refused 409 HOLD_LIMIT_REACHED, recording nothing", async () => {
  const limits = await api.services.quota.holdingLimitsOf(newUser());
  expect(limits).toEqual({ plan: 'free', maxUnpaidOrders: 5, maxHeldUnitsPerProduct: 10, maxStockSharePercent: 50 });

  const product = await newProduct(api.services.inventory, 'HOLD', 100, 500);
  const hoarder = newUser();
  const first = await order(hoarder, product.id, 10);
  expect(first.statusCode).toBe(201);
  await api.settled(first.json().id);
  const before = await api.snapshot();
  const refused = await order(hoarder, product.id, 10);
  expect(refused.statusCode).toBe(409);
  expect(refused.json().error).toEqual({ code: 'HOLD_LIMIT_REACHED', message: expect.stringContaining('10 units') });
  expect(await api.snapshot()).toEqual(before);

  // Everyone else still sees and can buy the other 90.
  expect(await available(product.id)).toBe(90);
  expect((await order(newUser(), product.id, 10)).statusCode).toBe(201);
});

test("12 orders of one customer at once: exactly the plan's 5 unpaid orders are accepted, the others 409 HOLD_LIMIT_REACHED", async () => {
  const product = await newProduct(api.services.inventory, 'HOLD', 100, 500);
  const racer = newUser();
  const responses = await Promise.all(Array.from({ length: 12 }, () => order(racer, product.id, 1)));
  // An unexpected answer shows its body in the failure.
  const outcomes = responses.map((response) =>
    [201, 409].includes(response.statusCode) ? response.statusCode : response.body,
  );
  expect(outcomes.sort()).toEqual([...Array(5).fill(201), ...Array(7).fill(409)]);
  for (const response of responses.filter((r) => r.statusCode === 409))
    expect(response.json().error).toEqual({
      code: 'HOLD_LIMIT_REACHED',
      message: expect.stringContaining('5 unpaid orders'),
    });
  expect(await available(product.id)).toBe(95);
});

test("the plan's limits are data: a pro customer may hold more", async () => {
  const product = await newProduct(api.services.inventory, 'HOLD', 100, 500);
  const pro = newUser();
  await api.services.quota.setPlan(pro, 'pro');
  expect((await order(pro, product.id, 40)).statusCode).toBe(201);
  const refused = await order(pro, product.id, 11);
  expect(refused.statusCode).toBe(409);
  // 50 % of the 100 units still on hand: 50.
  expect(refused.json().error.message).toContain('50%');
});

describe('a payment method is a Stripe PaymentMethod id', () => {
  const pay = (userId: string, orderId: string, paymentMethod: string) =>
    api.as(userId, { method: 'POST', url: `/v1/orders/${orderId}/payment`, payload: { paymentMethod } });

  test.each(['4242424242424242', '4242 4242 4242 4242', 'visa', 'pm_', 'pm_card visa', 'PM_card_visa', 'card_1234'])(
    '%p is refused 400 VALIDATION_FAILED and nothing is stored',
    async (paymentMethod) => {
      const customer = newUser();
      const product = await newProduct(api.services.inventory, 'PAYM', 10, 500);
      const placed = (await order(customer, product.id, 1)).json();
      await api.settled(placed.id);
      const before = await api.snapshot();
      const refused = await pay(customer, placed.id, paymentMethod);
      expect(refused.statusCode).toBe(400);
      expect(refused.json().error).toEqual({
        code: 'VALIDATION_FAILED',
        message: expect.stringContaining('paymentMethod'),
      });
      expect(await api.snapshot()).toEqual(before);
    },
  );

  test('a PaymentMethod id pays', async () => {
    const customer = newUser();
    const product = await newProduct(api.services.inventory, 'PAYM', 10, 500);
    const placed = (await order(customer, product.id, 1)).json();
    const paid = await pay(customer, placed.id, 'pm_card_visa');
    expect(paid.statusCode).toBe(200);
    expect(['PAID', 'COMPLETED']).toContain(paid.json().status);
  });
});

describe('behind a proxy, per-address limits count the clients (TRUST_PROXY)', () => {
  /** Dev tokens asked for through one proxy, one per client address, with a limit of one a minute per address. */
  async function devTokensThroughProxy(trustProxy: TrustProxy, clients: string[]): Promise<number[]> {
    const app = await buildAppBeside(api, { settings: { ...TEST_SETTINGS, trustProxy }, rateLimits: { devTokens: 1 } });
    try {
      const statuses: number[] = [];
      for (const client of clients) {
        const response = await app.inject({
          method: 'POST',
          url: '/v1/auth/dev-token',
          headers: { 'x-forwarded-for': client },
          payload: { userId: newUser() },
        });
        statuses.push(response.statusCode);
      }
      return statuses;
    } finally {
      await app.close();
    }
  }

  test('trusting the proxy, two customers behind it each get their own limit', async () => {
    expect(await devTokensThroughProxy(1, ['203.0.113.1', '203.0.113.2', '203.0.113.1'])).toEqual([200, 200, 429]);
    expect(await devTokensThroughProxy(['127.0.0.1'], ['203.0.113.1', '203.0.113.2'])).toEqual([200, 200]);
  });

  test("not trusting it, they share the proxy's address, and a client cannot choose its own", async () => {
    expect(await devTokensThroughProxy(false, ['203.0.113.1', '203.0.113.2'])).toEqual([200, 429]);
  });
});
