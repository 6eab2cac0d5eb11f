/** Which activities each service's task queue runs, built over the services they adapt. */
import type { Client } from '@temporalio/client';
import type { Services } from '../services';
import { TASK_QUEUES } from '../workflows/contract';
import { createCartActivities } from '../activities/cart.activities';
import { createInventoryActivities } from '../activities/inventory.activities';
import { createNotificationActivities } from '../activities/notifications.activities';
import { createOrdersActivities } from '../activities/orders.activities';
import { createPaymentsActivities } from '../activities/payments.activities';
import { createQuotaActivities } from '../activities/quota.activities';
import {
  createOrderRefundActivities,
  createRefundPaymentsActivities,
  createRestockActivities,
} from '../activities/refunds.activities';
import { createReconcilerActivities } from '../reconciler/reconciler.activities';
import { reconcile } from '../reconciler/reconcile';
import { reasonToLeave, repairOrder, type RepairDeps } from '../reconciler/repair';
import { checkoutRunning } from '../temporal/checkout-client';
import { DEFAULT_ORDER_TTL_SECONDS } from '../lib/config';

export type ServiceQueue = Exclude<keyof typeof TASK_QUEUES, 'checkout'>;

export function createActivitiesByQueue(
  services: Services,
  temporal: Client,
  options: { orderTtlSeconds?: number } = {},
): Record<ServiceQueue, object> {
  const repairs: RepairDeps = {
    temporal,
    orders: services.orders,
    payments: services.payments,
    orderTtlSeconds: options.orderTtlSeconds ?? DEFAULT_ORDER_TTL_SECONDS,
  };
  return {
    // Each service's queue runs the checkout's activities and the refund saga's (workflows/refund/).
    inventory: {
      ...createInventoryActivities({ inventory: services.inventory }),
      ...createRestockActivities({ restocks: services.restocks }),
    },
    orders: {
      ...createOrdersActivities({ orders: services.orders }),
      ...createOrderRefundActivities({ orderRefunds: services.orderRefunds }),
    },
    payments: {
      ...createPaymentsActivities({ payments: services.payments }),
      ...createRefundPaymentsActivities({ refunds: services.refunds }),
    },
    cart: createCartActivities({ cart: services.cart }),
    quota: createQuotaActivities({ quota: services.quota, temporal }),
    notifications: createNotificationActivities({ notifications: services.notifications, temporal }),
    reconciler: createReconcilerActivities({
      check: () =>
        reconcile(services.databaseUrls, {
          stripeSecretKey: services.stripe.stripeSecretKey,
          checkoutRunning: (orderId) => checkoutRunning(temporal, orderId),
        }),
      repairStranded: async (orderId) => {
        const reason = await reasonToLeave(repairs, orderId);
        return reason ? { action: 'left', detail: reason } : repairOrder(repairs, orderId);
      },
      findings: services.findings,
      accounts: services.accounts,
      temporal,
    }),
  };
}
