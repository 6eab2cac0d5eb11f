/** Opens the seven services over their own databases; used by the workers, the API and the tests. */
import type { ServiceName } from '../lib/service-names';
import type { DatabasePoolSettings } from '../lib/db/pool';
import { AccountsService } from './accounts/accounts.service';
import { createAccountsDb } from './accounts/db';
import { CartService } from './cart/cart.service';
import { createCartDb } from './cart/db';
import { createInventoryDb } from './inventory/db';
import { InventoryService } from './inventory/inventory.service';
import { RestocksService } from './inventory/restocks';
import { createNotificationsDb } from './notifications/db';
import { NotificationsService } from './notifications/notifications.service';
import { createOrdersDb } from './orders/db';
import { FindingsService } from './orders/findings.service';
import { OrdersService } from './orders/orders.service';
import { OrderRefundsService } from './orders/refunds';
import { createPaymentsDb } from './payments/db';
import { PaymentsService } from './payments/payments.service';
import { RefundsService } from './payments/refunds.service';
import { createStripeGateway, type StripeSettings } from './payments/stripe-client';
import { createQuotaDb } from './quota/db';
import { QuotaService } from './quota/quota.service';

export interface Services {
  inventory: InventoryService;
  orders: OrdersService;
  payments: PaymentsService;
  cart: CartService;
  quota: QuotaService;
  notifications: NotificationsService;
  accounts: AccountsService;
  /** Refunds after the sale, in each service's own database: the money (payments), the units back on sale (inventory), the order's amount and status (orders). */
  refunds: RefundsService;
  restocks: RestocksService;
  orderRefunds: OrderRefundsService;
  /** The reconciler's findings and runs, in the orders database. */
  findings: FindingsService;
  /** Where each database lives and which Stripe: the reconciler reads four databases side by side (reconciler/). */
  databaseUrls: Readonly<Record<ServiceName, string>>;
  stripe: StripeSettings;
  /** Runs a trivial query on each database; the names of those that did not answer. */
  unreachable(): Promise<ServiceName[]>;
  /** A trivial query on one service's pool; throws when its database does not answer. */
  ping(service: ServiceName): Promise<void>;
  close(): Promise<void>;
}

/**
 * One pool per service database, each sized and bounded by `settings.databasePool` (the process's
 * settings, DB_POOL_MAX and the timeouts; defaults in lib/db/pool.ts).
 */
export function openServices(
  urls: Record<ServiceName, string>,
  stripe: StripeSettings & { databasePool?: DatabasePoolSettings },
): Services {
  const pool = stripe.databasePool;
  const dbs = {
    inventory: createInventoryDb(urls.inventory, pool),
    orders: createOrdersDb(urls.orders, pool),
    payments: createPaymentsDb(urls.payments, pool),
    cart: createCartDb(urls.cart, pool),
    quota: createQuotaDb(urls.quota, pool),
    notifications: createNotificationsDb(urls.notifications, pool),
    accounts: createAccountsDb(urls.accounts, pool),
  };
  const quota = new QuotaService(dbs.quota);
  const stripeGateway = createStripeGateway(stripe);
  return {
    inventory: new InventoryService(dbs.inventory),
    orders: new OrdersService(dbs.orders),
    payments: new PaymentsService(dbs.payments, stripeGateway),
    refunds: new RefundsService(dbs.payments, stripeGateway),
    restocks: new RestocksService(dbs.inventory),
    orderRefunds: new OrderRefundsService(dbs.orders),
    cart: new CartService(dbs.cart),
    quota,
    notifications: new NotificationsService(dbs.notifications),
    // Plan changes reach quota by a call to its service, never by reading the other's tables.
    accounts: new AccountsService(dbs.accounts, { plans: quota }),
    findings: new FindingsService(dbs.orders),
    databaseUrls: { ...urls },
    stripe,
    async ping(service) {
      await dbs[service].$queryRaw`SELECT 1`;
    },
    async unreachable() {
      const checks = await Promise.all(
        Object.entries(dbs).map(async ([name, db]) => {
          try {
            await db.$queryRaw`SELECT 1`;
            return null;
          } catch {
            return name as ServiceName;
          }
        }),
      );
      return checks.filter((name): name is ServiceName => name !== null);
    },
    async close() {
      await Promise.all(Object.values(dbs).map((db) => db.$disconnect()));
    },
  };
}
