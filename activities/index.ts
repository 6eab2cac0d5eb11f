/** Which activities each service's task queue runs, built over the services they adapt. */
import type { Client } from '@temporalio/client';
import type { Services } from '../services';
import { TASK_QUEUES } from '../workflows/contract';
import { createCartActivities } from './cart.activities';
import { createInventoryActivities } from './inventory.activities';
import { createNotificationActivities } from './notifications.activities';
import { createOrdersActivities } from './orders.activities';
import { createPaymentsActivities } from './payments.activities';
import { createQuotaActivities } from './quota.activities';
import { createReconcilerActivities } from './reconciler.activities';
import { reconcile } from '../lib/reconciler/reconcile';

export type ServiceQueue = Exclude<keyof typeof TASK_QUEUES, 'checkout'>;

export function createActivitiesByQueue(services: Services, temporal: Client): Record<ServiceQueue, object> {
  return {
    inventory: createInventoryActivities({ inventory: services.inventory }),
    orders: createOrdersActivities({ orders: services.orders }),
    payments: createPaymentsActivities({ payments: services.payments }),
    cart: createCartActivities({ cart: services.cart }),
    quota: createQuotaActivities({ quota: services.quota, temporal }),
    notifications: createNotificationActivities({ notifications: services.notifications, temporal }),
    reconciler: createReconcilerActivities({
      check: () => reconcile(services.databaseUrls, { stripeSecretKey: services.stripe.stripeSecretKey }),
      findings: services.findings,
      accounts: services.accounts,
      temporal,
    }),
  };
}
