import { Client } from 'pg';
import { createTestDatabases, type TestDatabases } from '../test/helpers/databases';
import { verifyPassword } from '../services/accounts/passwords';
import { checkInvariants } from '../reconciler/invariants';
import { DEMO_ACCOUNTS, DEMO_PASSWORD, DEMO_PRODUCTS, seedDemoData, usagePeriod } from './seed';

// Hashing the demo password (argon2id) takes a while on a busy machine.
jest.setTimeout(30_000);

let databases: TestDatabases;
beforeAll(async () => {
  databases = await createTestDatabases(['inventory', 'quota', 'notifications', 'accounts']);
});
afterAll(async () => {
  await databases?.dispose();
});

async function rows<T extends object>(url: string, sql: string): Promise<T[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

/** Databases of their own, for a test that reconciles the whole store. */
async function withFreshDatabases(use: (urls: TestDatabases['urls']) => Promise<void>): Promise<void> {
  const fresh = await createTestDatabases(['inventory', 'quota', 'orders', 'payments']);
  try {
    await use(fresh.urls);
  } finally {
    await fresh.dispose();
  }
}

/** What `npm run ops -- reconcile` checks, on the seeded databases. */
async function reconcile(urls: TestDatabases['urls']) {
  const db = {
    inventory: new Client({ connectionString: urls.inventory }),
    orders: new Client({ connectionString: urls.orders }),
    payments: new Client({ connectionString: urls.payments }),
    quota: new Client({ connectionString: urls.quota }),
  };
  await Promise.all(Object.values(db).map((client) => client.connect()));
  try {
    return await checkInvariants({ db });
  } finally {
    await Promise.all(Object.values(db).map((client) => client.end()));
  }
}

describe('seedDemoData', () => {
  const now = new Date('2026-11-15T12:00:00Z');

  it('creates the demo products, subscriptions and carol over her build limit, once', async () => {
    const first = await seedDemoData(databases.urls, now);
    expect(first).toEqual({
      accountsCreated: 3,
      productsCreated: DEMO_PRODUCTS.length,
      openingStockRecorded: 0,
      subscriptionsCreated: 3,
      usageCreated: 1,
      period: '2026-11',
    });

    // The demo accounts sign in with the documented password; their plans are quota's plans.
    const accounts = await rows<{ id: string; email: string; role: string; plan: string; password_hash: string }>(
      databases.urls.accounts,
      'SELECT id, email, role, plan, password_hash FROM users ORDER BY id',
    );
    expect(accounts.map(({ id, email, role, plan }) => ({ id, email, role, plan }))).toEqual(
      DEMO_ACCOUNTS.map((account) => ({
        id: account.userId,
        email: account.email,
        role: 'user',
        plan: account.planId,
      })),
    );
    expect(await verifyPassword(accounts[0]!.password_hash, DEMO_PASSWORD)).toBe(true);

    const products = await rows<{ sku: string; available: number; price_cents: number }>(
      databases.urls.inventory,
      'SELECT sku, available, price_cents FROM products ORDER BY sku',
    );
    expect(products).toHaveLength(8);
    expect(new Set(products.map((p) => p.sku)).size).toBe(8);

    const subscriptions = await rows(
      databases.urls.quota,
      'SELECT user_id, plan_id FROM subscriptions ORDER BY user_id',
    );
    expect(subscriptions).toEqual([
      { user_id: 'alice', plan_id: 'free' },
      { user_id: 'bob', plan_id: 'pro' },
      { user_id: 'carol', plan_id: 'free' },
    ]);
    const usage = await rows(databases.urls.quota, 'SELECT user_id, resource, period, used FROM usage');
    expect(usage).toEqual([{ user_id: 'carol', resource: 'builds', period: '2026-11', used: 130 }]);

    // Carol's alerts wait unread for her first sign-in, and their thresholds count as told.
    const alerts = await rows<{ type: string; dedupe_key: string }>(
      databases.urls.notifications,
      `SELECT type, dedupe_key FROM notifications WHERE user_id = 'carol' AND read_at IS NULL ORDER BY sequence`,
    );
    expect(alerts).toEqual([
      { type: 'quota.warning', dedupe_key: 'quota:builds:2026-11:80' },
      { type: 'quota.exceeded', dedupe_key: 'quota:builds:2026-11:100' },
    ]);
    expect(
      await rows(
        databases.urls.quota,
        `SELECT threshold FROM threshold_crossings WHERE user_id = 'carol' ORDER BY threshold`,
      ),
    ).toEqual([{ threshold: 80 }, { threshold: 100 }]);
  });

  it('changes nothing on a second run, even after the demo was used', async () => {
    await rows(
      databases.urls.inventory,
      `UPDATE products SET available = available - 1, sold = sold + 1 WHERE sku = 'MUG-LOGO'`,
    );
    const again = await seedDemoData(databases.urls, now);
    expect(again).toEqual({
      accountsCreated: 0,
      productsCreated: 0,
      openingStockRecorded: 0,
      subscriptionsCreated: 0,
      usageCreated: 0,
      period: '2026-11',
    });
    expect(await rows(databases.urls.inventory, `SELECT available, sold FROM products WHERE sku = 'MUG-LOGO'`)).toEqual(
      [{ available: 99, sold: 1 }],
    );
    expect(await rows(databases.urls.notifications, `SELECT count(*)::int AS n FROM notifications`)).toEqual([
      { n: 2 },
    ]);
  });

  it("opens each product's stock ledger with its seeded units: a freshly seeded store reconciles clean", async () => {
    await withFreshDatabases(async (urls) => {
      await seedDemoData(urls, now);
      const ledger = await rows<{ sku: string; delta: number; reason: string }>(
        urls.inventory,
        `SELECT p.sku, a.delta, a.reason FROM stock_adjustments a JOIN products p ON p.id = a.product_id ORDER BY p.sku`,
      );
      expect(ledger).toEqual(
        [...DEMO_PRODUCTS]
          .sort((a, b) => (a.sku < b.sku ? -1 : 1))
          .map((product) => ({ sku: product.sku, delta: product.available, reason: 'opening stock' })),
      );
      const report = await reconcile(urls);
      expect(report.violations).toEqual([]);
      expect(report.checked['stock-conserved']).toBe(DEMO_PRODUCTS.length);
    });
  });

  it('gives a store seeded without the ledgers their opening stock, once, and leaves a real drift visible', async () => {
    await withFreshDatabases(async (urls) => {
      await seedDemoData(urls, now);
      // As earlier seeds left the products (no ledger entry), and a unit lost since.
      await rows(urls.inventory, 'DELETE FROM stock_adjustments');
      await rows(urls.inventory, `UPDATE products SET available = available - 1 WHERE sku = 'CAP-NAVY'`);
      expect((await reconcile(urls)).violations).toHaveLength(DEMO_PRODUCTS.length);

      expect((await seedDemoData(urls, now)).openingStockRecorded).toBe(DEMO_PRODUCTS.length);
      expect((await seedDemoData(urls, now)).openingStockRecorded).toBe(0);
      const { violations } = await reconcile(urls);
      expect(violations).toEqual([
        expect.objectContaining({
          invariant: 'stock-conserved',
          detail: expect.stringMatching(/^CAP-NAVY: its stock ledger says 30 units, the buckets hold 29 /),
        }),
      ]);
    });
  });

  it('names periods by UTC month', () => {
    expect(usagePeriod(new Date('2026-12-31T23:59:59Z'))).toBe('2026-12');
  });
});
