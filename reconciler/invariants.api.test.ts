/**
 * The reconciler's invariants on a store that real sagas filled (paid, cancelled and open orders
 * through the API): a clean store reports nothing, and each planted drift — a lost release, a
 * double payment, a stray reservation, a quota off by one, a PaymentIntent with no row, a lost
 * stock unit — is found under its invariant.
 */
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { Client } from 'pg';
import { startApiHarness, type ApiHarness } from '../test/helpers/api';
import { newProduct } from '../test/helpers/checkouts';
import { checkInvariants, type InvariantInput, type SucceededPaymentIntent } from './invariants';
import { databaseUrlEnv } from '../lib/config';
import { checkoutRunning } from '../temporal/checkout-client';

jest.setTimeout(120_000);

let api: ApiHarness;
let db: Record<keyof InvariantInput['db'], Client>;
let paid: string;
let open: string;
let cancelled: string;

beforeAll(async () => {
  api = await startApiHarness();
  const entries = await Promise.all(
    (['inventory', 'orders', 'payments', 'quota'] as const).map(async (service) => {
      const client = new Client({ connectionString: api.dbs.urls[service] });
      await client.connect();
      return [service, client] as const;
    }),
  );
  db = Object.fromEntries(entries) as typeof db;

  const product = await newProduct(api.services.inventory, 'REC', 10, 1_500);
  const place = async (user: string) => {
    const response = await api.as(user, {
      method: 'POST',
      url: '/v1/orders',
      payload: { items: [{ productId: product.id, quantity: 2 }] },
    });
    expect(response.statusCode).toBe(201);
    return response.json().id as string;
  };
  paid = await place('rec-alice');
  expect(
    (
      await api.as('rec-alice', {
        method: 'POST',
        url: `/v1/orders/${paid}/payment`,
        payload: { paymentMethod: 'pm_card_visa' },
      })
    ).statusCode,
  ).toBe(200);
  cancelled = await place('rec-bob');
  expect((await api.as('rec-bob', { method: 'POST', url: `/v1/orders/${cancelled}/cancel` })).statusCode).toBe(200);
  open = await place('rec-carol');
  // Each saga at rest: the paid one completed, the others' status events persisted.
  for (const orderId of [paid, cancelled, open]) await api.settled(orderId);
  for (let i = 0; i < 200 && (await api.services.orders.get(paid))!.status !== 'COMPLETED'; i++)
    await api.settled(paid);
  expect((await api.services.orders.get(paid))!.status).toBe('COMPLETED');
});
afterAll(async () => {
  await Promise.all(Object.values(db ?? {}).map((client) => client.end()));
  await api?.close();
});

async function recordedIntents(): Promise<SucceededPaymentIntent[]> {
  const { rows } = await db.payments.query<{
    stripe_payment_intent_id: string;
    order_id: string;
    amount_cents: number;
  }>(`SELECT stripe_payment_intent_id, order_id, amount_cents FROM payments WHERE status = 'SUCCEEDED'`);
  return rows.map((r) => ({ id: r.stripe_payment_intent_id, orderId: r.order_id, amountCents: r.amount_cents }));
}

const check = (extraIntents: SucceededPaymentIntent[] = [], lostRun?: string) =>
  checkInvariants({
    db,
    graceSeconds: 0,
    paymentIntents: async () => [...(await recordedIntents()), ...extraIntents],
    // Temporal itself, except for an order whose run the test says is gone.
    checkoutRunning: async (orderId) => orderId !== lostRun && (await checkoutRunning(api.temporal.client, orderId)),
  });

/** Runs the checks with `plant` applied inside a transaction that is rolled back, so each drift is seen alone. */
async function withDrift(
  service: keyof InvariantInput['db'],
  plant: (client: Client) => Promise<void>,
  extraIntents: SucceededPaymentIntent[] = [],
) {
  const client = db[service];
  await client.query('BEGIN');
  try {
    await plant(client);
    return await check(extraIntents);
  } finally {
    await client.query('ROLLBACK');
  }
}

test('a store that only sagas touched reports no violation, having looked at each invariant', async () => {
  const report = await check();
  expect(report.violations).toEqual([]);
  expect(report.skipped).toEqual({});
  for (const [invariant, n] of Object.entries(report.checked)) expect([invariant, n > 0]).toEqual([invariant, true]);
});

test('a stranded order: one awaiting payment whose checkout workflow is gone', async () => {
  const report = await check([], open);
  expect(report.violations).toEqual([
    expect.objectContaining({ invariant: 'order-has-workflow', orderId: open, key: `order-has-workflow:${open}` }),
  ]);
  expect(report.violations[0]!.detail).toContain(`npm run ops -- repair ${open}`);
});

test('a lost release: a cancelled order whose stock is still held', async () => {
  const report = await withDrift('inventory', (c) =>
    c.query(`UPDATE reservations SET status = 'HELD' WHERE order_id = $1`, [cancelled]).then(() => undefined),
  );
  expect(report.violations).toEqual(
    expect.arrayContaining([
      expect.objectContaining({
        invariant: 'no-live-reservation',
        orderId: cancelled,
        detail: expect.stringMatching(/CANCELLED order still holds/),
      }),
    ]),
  );
});

test('a double payment: two charges recorded as succeeded for one order', async () => {
  const report = await withDrift('payments', async (c) => {
    await c.query(
      `INSERT INTO payment_attempts (payment_id, attempt, payment_method, outcome)
       SELECT id, 99, 'pm_card_visa', 'SUCCEEDED' FROM payments WHERE order_id = $1`,
      [paid],
    );
  });
  expect(report.violations).toEqual([
    expect.objectContaining({ invariant: 'one-payment', orderId: paid, detail: expect.stringMatching(/2 charges/) }),
  ]);
});

test('a stray reservation: stock held for an order that does not exist', async () => {
  const ghost = randomUUID();
  const report = await withDrift('inventory', async (c) => {
    const { rows } = await c.query<{ id: string }>(
      `INSERT INTO reservations (id, order_id, updated_at) VALUES ($1, $2, now() - interval '1 hour') RETURNING id`,
      [randomUUID(), ghost],
    );
    const { rows: products } = await c.query<{ id: string }>(`SELECT id FROM products LIMIT 1`);
    await c.query(`INSERT INTO reservation_lines (reservation_id, product_id, quantity) VALUES ($1, $2, 1)`, [
      rows[0]!.id,
      products[0]!.id,
    ]);
    await c.query(`UPDATE reservations SET created_at = now() - interval '1 hour' WHERE order_id = $1`, [ghost]);
  });
  expect(report.violations.map((v) => [v.invariant, v.orderId ?? v.productId])).toEqual(
    expect.arrayContaining([
      ['no-live-reservation', ghost],
      // Its unit is held by a reservation but was never taken from `available`: the buckets disagree too.
      ['stock-conserved', expect.any(String)],
    ]),
  );
});

test('a quota off by one', async () => {
  const report = await withDrift('quota', (c) =>
    c
      .query(`UPDATE "usage" SET used = used + 1 WHERE user_id = 'rec-alice' AND resource = 'orders'`)
      .then(() => undefined),
  );
  expect(report.violations).toEqual([
    expect.objectContaining({
      invariant: 'quota-matches-orders',
      detail: expect.stringMatching(/rec-alice orders .*: used 2 ≠ 1/),
    }),
  ]);
});

test('a PaymentIntent that succeeded at Stripe with no payment row', async () => {
  const report = await check([{ id: 'pi_unrecorded_1', orderId: open, amountCents: 3_000 }]);
  expect(report.violations).toEqual([
    expect.objectContaining({
      invariant: 'payment-intent-matched',
      key: 'payment-intent-matched:pi_unrecorded_1',
      orderId: open,
    }),
  ]);
});

test('a lost stock unit: the buckets no longer add up to the ledger', async () => {
  const report = await withDrift('inventory', (c) =>
    c.query(`UPDATE products SET available = available - 1`).then(() => undefined),
  );
  expect(report.violations).toEqual([
    expect.objectContaining({
      invariant: 'stock-conserved',
      detail: expect.stringMatching(/ledger says 10 units, the buckets hold 9/),
    }),
  ]);
});

test('`npm run ops -- reconcile` reports a clean store and exits 0, and names a drift and exits 1', async () => {
  const env = {
    ...process.env,
    ...databaseUrlEnv(api.dbs.urls),
  };
  delete env.STRIPE_SECRET_KEY;
  const ops = () =>
    spawnSync(
      path.resolve(__dirname, '../node_modules/.bin/tsx'),
      [path.resolve(__dirname, '../scripts/ops.ts'), 'reconcile'],
      { env, encoding: 'utf8' },
    );
  const clean = ops();
  expect([clean.status, clean.stderr]).toEqual([0, '']);
  expect(clean.stdout).toMatch(/^stock-conserved\s+ok \(\d+ checked\)$/m);
  expect(clean.stdout).toMatch(/^payment-intent-matched\s+skipped: /m);
  expect(clean.stdout).toMatch(/no drift found/);

  await db.quota.query(`UPDATE "usage" SET used = used + 1 WHERE user_id = 'rec-carol' AND resource = 'orders'`);
  try {
    const drifted = ops();
    expect(drifted.status).toBe(1);
    expect(drifted.stdout).toMatch(/^quota-matches-orders\s+1 VIOLATION \(\d+ checked\)$/m);
    expect(drifted.stdout).toMatch(/rec-carol orders \d{4}-\d{2}: used 2 ≠ 1 from its events/);
  } finally {
    await db.quota.query(`UPDATE "usage" SET used = used - 1 WHERE user_id = 'rec-carol' AND resource = 'orders'`);
  }
});
