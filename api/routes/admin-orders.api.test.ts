/**
 * What the dashboard's admin view and order page read: every customer's orders found by a
 * customer's email (any case), any order read by an admin with its timeline, and customers kept
 * to their own orders.
 */
import { randomUUID } from 'node:crypto';
import { useApiHarness } from '../../test/helpers/api';
import { seedCatalogue, seedOrders } from '../../harness/scale-seed';

jest.setTimeout(60_000);

const api = useApiHarness();
const ADMIN = 'orders-admin';

async function customer(label: string): Promise<{ id: string; email: string }> {
  const email = `${label}.${randomUUID().slice(0, 8)}@example.com`;
  const signedUp = await api.app.inject({
    method: 'POST',
    url: '/v1/auth/signup',
    payload: { email, password: 'a password long enough' },
  });
  expect(signedUp.statusCode).toBe(201);
  return { id: signedUp.json<{ user: { id: string } }>().user.id, email };
}

const get = async (url: string, userId: string, role: 'user' | 'admin' = 'user') => {
  const response = await api.as(userId, { method: 'GET', url }, role);
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- parsed JSON that tests read freely
  return { status: response.statusCode, body: response.json<any>() };
};

let ana: { id: string; email: string };
let ben: { id: string; email: string };
let anasOrders: string[];

beforeAll(async () => {
  [ana, ben] = await Promise.all([customer('ana'), customer('ben')]);
  const products = await seedCatalogue(api.services.inventory, { count: 2, prefix: `ADM${randomUUID().slice(0, 4)}` });
  anasOrders = (await seedOrders(api.services, { customerId: ana.id, count: 3, products })).map((order) => order.id);
  await seedOrders(api.services, { customerId: ben.id, count: 2, products });
});

test("an admin finds a customer's orders by their email, in any case; an unknown email finds none", async () => {
  const found = await get(
    `/v1/orders?scope=all&customerEmail=${encodeURIComponent(ana.email.toUpperCase())}`,
    ADMIN,
    'admin',
  );
  expect(found.status).toBe(200);
  expect(found.body.items.map((order: { id: string }) => order.id).sort()).toEqual([...anasOrders].sort());
  expect(found.body.items.every((order: { customerId: string }) => order.customerId === ana.id)).toBe(true);
  const unknown = await get('/v1/orders?scope=all&customerEmail=nobody%40example.com', ADMIN, 'admin');
  expect(unknown).toEqual({ status: 200, body: { items: [], nextCursor: null } });
});

test('a search by email is refused to customers, without scope=all, and beside a customerId', async () => {
  const email = encodeURIComponent(ben.email);
  const refusals = [
    [ana.id, 'user', `/v1/orders?scope=all&customerEmail=${email}`, 403, 'FORBIDDEN'],
    [ana.id, 'user', `/v1/orders?customerEmail=${email}`, 403, 'FORBIDDEN'],
    [ADMIN, 'admin', `/v1/orders?customerEmail=${email}`, 400, 'VALIDATION_FAILED'],
    [ADMIN, 'admin', `/v1/orders?scope=all&customerEmail=${email}&customerId=${ben.id}`, 400, 'VALIDATION_FAILED'],
  ] as const;
  for (const [userId, role, url, status, code] of refusals) {
    const refused = await get(url, userId, role);
    expect([url, refused.status, refused.body.error?.code]).toEqual([url, status, code]);
  }
});

test("an admin reads any customer's order with its timeline; another customer gets 404", async () => {
  const orderId = anasOrders[0]!;
  const read = await get(`/v1/orders/${orderId}`, ADMIN, 'admin');
  expect(read.status).toBe(200);
  expect(read.body).toMatchObject({ id: orderId, customerId: ana.id, status: 'PENDING', refunds: [] });
  expect(read.body.timeline).toEqual([{ at: expect.any(String), kind: 'status', status: 'PENDING', from: null }]);
  expect((await get(`/v1/orders/${orderId}`, ana.id)).body.timeline).toEqual(read.body.timeline);
  const other = await get(`/v1/orders/${orderId}`, ben.id);
  expect([other.status, other.body.error?.code]).toEqual([404, 'ORDER_NOT_FOUND']);
});
