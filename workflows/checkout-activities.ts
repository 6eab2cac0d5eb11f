/** The activities the checkout saga calls, each service's through its own task queue and options (activity-options.ts). */
import { proxyActivities } from '@temporalio/workflow';
import type { CartActivities } from '../activities/cart.activities';
import type { InventoryActivities } from '../activities/inventory.activities';
import type { OrdersActivities } from '../activities/orders.activities';
import type { PaymentsActivities } from '../activities/payments.activities';
import type { createQuotaActivities } from '../activities/quota.activities';
import { ACTIVITY_OPTIONS } from './activity-options';

export const quota = proxyActivities<ReturnType<typeof createQuotaActivities>>(ACTIVITY_OPTIONS.quota);
export const orders = proxyActivities<OrdersActivities>(ACTIVITY_OPTIONS.orders);
/** The PAID and COMPLETED writes, past the commit point: they retry until they succeed. */
export const ordersForwardOnly = proxyActivities<OrdersActivities>(ACTIVITY_OPTIONS.ordersForwardOnly);
export const inventory = proxyActivities<InventoryActivities>(ACTIVITY_OPTIONS.inventory);
export const payments = proxyActivities<PaymentsActivities>(ACTIVITY_OPTIONS.payments);
export const cart = proxyActivities<CartActivities>(ACTIVITY_OPTIONS.cart);
