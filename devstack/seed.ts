/**
 * `npm run db:seed`: demo data, created when missing and never overwritten (it runs on every
 * `npm start`, so live stock and usage survive a restart). Stock goes through the inventory
 * service's ledger, so a freshly seeded store passes the reconciler. Plans themselves are seeded
 * by the quota migration.
 */
import { createInventoryDb } from '../services/inventory/db';
import { InventoryService } from '../services/inventory/inventory.service';
import { createQuotaDb } from '../services/quota/db';
import { createNotificationsDb } from '../services/notifications/db';
import { NotificationsService } from '../services/notifications/notifications.service';
import { THRESHOLDS } from '../services/quota/quota.service';
import { quotaNotification } from '../activities/usage-recording';
import type { ServiceName } from '../lib/service-names';
import { withMigratedDatabases } from './migrate-all';
import { DEMO_ACCOUNTS, DEMO_PASSWORD, type DemoAccount } from '../services/accounts/demo-accounts';
import { createAccountsDb } from '../services/accounts/db';
import { emailKeyOf } from '../services/accounts/accounts.service';
import { hashPassword } from '../services/accounts/passwords';
import { isProduction } from '../lib/production';
import { commandLineOrExit } from '../lib/command-line';

export interface DemoProduct {
  id: string;
  sku: string;
  name: string;
  priceCents: number;
  available: number;
}

/** Fixed ids, so that links and scripted demos stay valid across machines. */
export const DEMO_PRODUCTS: readonly DemoProduct[] = [
  {
    id: '8f1c0d2e-0000-4000-8000-000000000001',
    sku: 'TEE-BLACK-M',
    name: 'Black T-shirt (M)',
    priceCents: 1999,
    available: 50,
  },
  {
    id: '8f1c0d2e-0000-4000-8000-000000000002',
    sku: 'HOODIE-GREY-L',
    name: 'Grey hoodie (L)',
    priceCents: 4999,
    available: 20,
  },
  { id: '8f1c0d2e-0000-4000-8000-000000000003', sku: 'MUG-LOGO', name: 'Logo mug', priceCents: 1299, available: 100 },
  {
    id: '8f1c0d2e-0000-4000-8000-000000000004',
    sku: 'STICKER-PACK',
    name: 'Sticker pack',
    priceCents: 499,
    available: 500,
  },
  { id: '8f1c0d2e-0000-4000-8000-000000000005', sku: 'CAP-NAVY', name: 'Navy cap', priceCents: 2499, available: 30 },
  {
    id: '8f1c0d2e-0000-4000-8000-000000000006',
    sku: 'BOTTLE-STEEL',
    name: 'Steel water bottle',
    priceCents: 2999,
    available: 40,
  },
  {
    id: '8f1c0d2e-0000-4000-8000-000000000007',
    sku: 'NOTEBOOK-A5',
    name: 'A5 notebook',
    priceCents: 899,
    available: 200,
  },
  // Scarce on purpose: two customers racing for the last units show OUT_OF_STOCK.
  {
    id: '8f1c0d2e-0000-4000-8000-000000000008',
    sku: 'KEYBOARD-LTD',
    name: 'Limited-edition keyboard',
    priceCents: 14999,
    available: 3,
  },
];

/** The demo users are the demo accounts: one definition (services/accounts/demo-accounts.ts), which the API and `npm start` also read. */
export { DEMO_ACCOUNTS, DEMO_PASSWORD } from '../services/accounts/demo-accounts';
export type DemoUser = DemoAccount;
export const DEMO_USERS: readonly DemoUser[] = DEMO_ACCOUNTS;

/** The usage period of a moment: its UTC month, '2026-11'. */
export function usagePeriod(at: Date = new Date()): string {
  return at.toISOString().slice(0, 7);
}

export interface SeedResult {
  accountsCreated: number;
  productsCreated: number;
  /** Demo products seeded without their opening stock in the ledger (by an earlier seed), given it now. */
  openingStockRecorded: number;
  subscriptionsCreated: number;
  usageCreated: number;
  period: string;
}

/**
 * Idempotent demo data. With the notifications database, a user seeded past a threshold also
 * has the alerts the quota activity would have sent when that usage was recorded (unread, and
 * the crossings marked as told), so carol sees she is over her plan the first time she signs in.
 */
export async function seedDemoData(
  urls: Pick<Record<ServiceName, string>, 'inventory' | 'quota'> &
    Partial<Pick<Record<ServiceName, string>, 'notifications' | 'accounts'>>,
  now: Date = new Date(),
): Promise<SeedResult> {
  const period = usagePeriod(now);
  const inventory = createInventoryDb(urls.inventory);
  const quota = createQuotaDb(urls.quota);
  const notificationsDb = urls.notifications ? createNotificationsDb(urls.notifications) : undefined;
  const notifications = notificationsDb && new NotificationsService(notificationsDb);
  const accounts = urls.accounts ? createAccountsDb(urls.accounts) : undefined;
  const result: SeedResult = {
    accountsCreated: 0,
    productsCreated: 0,
    openingStockRecorded: 0,
    subscriptionsCreated: 0,
    usageCreated: 0,
    period,
  };
  try {
    if (accounts) result.accountsCreated = await seedDemoAccounts(accounts);
    const stock = new InventoryService(inventory);
    for (const product of DEMO_PRODUCTS) {
      // Through the inventory service, so the stock's ledger opens with the seeded units and the
      // reconciler's stock-conserved check holds from the first start (safe when two seeds race).
      if (await stock.ensureProduct(product)) {
        result.productsCreated += 1;
        continue;
      }
      // Earlier seeds inserted the products without the ledger's opening entry. Repaired here,
      // once, because the seed knows exactly what is missing: the units it gave the product, which
      // have not changed since the first seed. Not the current buckets: a product that drifted since
      // (or one an operator created under this id) keeps showing its drift to the reconciler.
      if (await stock.recordMissingOpeningStock(product.id, product.available)) result.openingStockRecorded += 1;
    }
    for (const user of DEMO_USERS) {
      const { count } = await quota.subscription.createMany({
        data: [{ userId: user.userId, planId: user.planId }],
        skipDuplicates: true,
      });
      result.subscriptionsCreated += count;
      if (user.buildsUsed === 0) continue;
      // The usage and the event that recorded it, as the quota service would have written them.
      const created = await quota.$transaction([
        quota.usageEvent.createMany({
          data: [
            {
              userId: user.userId,
              idempotencyKey: `seed-builds-${period}`,
              resource: 'builds',
              period,
              quantity: user.buildsUsed,
            },
          ],
          skipDuplicates: true,
        }),
        quota.usage.createMany({
          data: [{ userId: user.userId, resource: 'builds', period, used: user.buildsUsed }],
          skipDuplicates: true,
        }),
      ]);
      result.usageCreated += created[1].count;
      if (notifications) await seedThresholdAlerts(quota, notifications, user, period);
    }
    return result;
  } finally {
    await Promise.all([
      inventory.$disconnect(),
      quota.$disconnect(),
      notificationsDb?.$disconnect(),
      accounts?.$disconnect(),
    ]);
  }
}

/**
 * The demo accounts with the documented demo password and their plans (the subscriptions below
 * tell quota the same plans). Written straight to the accounts database like the rest of the seed,
 * with the ids the seeded usage belongs to; only missing accounts are hashed and created.
 */
async function seedDemoAccounts(accounts: ReturnType<typeof createAccountsDb>): Promise<number> {
  let created = 0;
  // One hash for the demo accounts (argon2 is slow on purpose); they share a published password anyway.
  let passwordHash: Promise<string> | undefined;
  for (const account of DEMO_ACCOUNTS) {
    if (await accounts.user.findUnique({ where: { id: account.userId } })) continue;
    passwordHash ??= hashPassword(DEMO_PASSWORD);
    const { count } = await accounts.user.createMany({
      data: [
        {
          id: account.userId,
          email: account.email,
          emailKey: emailKeyOf(account.email),
          passwordHash: await passwordHash,
          plan: account.planId,
          // Their example.com addresses have no mailbox: the demo accounts count as verified, so they order at once.
          emailVerifiedAt: new Date(),
        },
      ],
      skipDuplicates: true,
    });
    created += count;
  }
  return created;
}

async function seedThresholdAlerts(
  quota: ReturnType<typeof createQuotaDb>,
  notifications: NotificationsService,
  user: DemoUser,
  period: string,
): Promise<void> {
  const limit = await quota.planLimit.findUnique({
    where: { planId_resource: { planId: user.planId, resource: 'builds' } },
  });
  if (!limit) return;
  for (const threshold of THRESHOLDS.filter((t) => user.buildsUsed * 100 >= t * limit.limitPerPeriod)) {
    await quota.thresholdCrossing.createMany({
      data: [{ userId: user.userId, resource: 'builds', period, threshold }],
      skipDuplicates: true,
    });
    const outcome = {
      resource: 'builds',
      used: user.buildsUsed,
      limit: limit.limitPerPeriod,
      overLimit: user.buildsUsed > limit.limitPerPeriod,
      period,
      enforcement: limit.enforcement,
      crossed: [threshold],
      replayed: false,
    };
    const { userId: _userId, ...alert } = quotaNotification(user.userId, outcome, threshold);
    await notifications.persist({ userId: user.userId, ...alert });
  }
}

async function main(): Promise<void> {
  commandLineOrExit(
    'npm run db:seed: the demo products, accounts and usage, created when missing and never overwritten.',
    {},
    () => undefined,
  );
  // The demo accounts' password is published (README): such accounts have no place in a production
  // database. The compose file's demo profile seeds a stack that runs in development mode.
  if (isProduction(process.env)) {
    process.stderr.write(
      'db:seed refuses to run with NODE_ENV=production: the demo accounts have a published password.\n',
    );
    process.exit(78);
  }
  await withMigratedDatabases(async (urls) => {
    const result = await seedDemoData(urls);
    console.log(
      `seeded: ${result.accountsCreated} demo accounts (password ${DEMO_PASSWORD}), ${result.productsCreated} products` +
        (result.openingStockRecorded
          ? ` (and the ledger's opening stock of ${result.openingStockRecorded} seeded earlier)`
          : '') +
        `, ${result.subscriptionsCreated} subscriptions, ` +
        `${result.usageCreated} usage rows for ${result.period} (existing rows left as they were)`,
    );
  });
}

if (require.main === module) {
  main().catch((error: Error) => {
    console.error(`db:seed failed: ${error.message}`);
    process.exit(1);
  });
}
