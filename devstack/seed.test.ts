import { Client } from 'pg';
import { createTestDatabases, type TestDatabases } from '../test/helpers/databases';
import { verifyPassword } from '../services/accounts/passwords';
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

describe('seedDemoData', () => {
  const now = new Date('2026-11-15T12:00:00Z');

  it('creates the demo products, subscriptions and carol over her build limit, once', async () => {
    const first = await seedDemoData(databases.urls, now);
    expect(first).toEqual({
      accountsCreated: 3,
      productsCreated: DEMO_PRODUCTS.length,
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

  it('names periods by UTC month', () => {
    expect(usagePeriod(new Date('2026-12-31T23:59:59Z'))).toBe('2026-12');
  });
});
