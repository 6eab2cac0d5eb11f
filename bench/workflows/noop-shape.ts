/**
 * What the no-op workflows of the saga's shape share: a no-op activity on each of the saga's task
 * queues, with the saga's activity options, and the state the saga starts from.
 */
import { proxyActivities } from '@temporalio/workflow';
import { ACTIVITY_OPTIONS } from '../../workflows/activity-options';
import { orderTotalCents, type CheckoutInput, type CheckoutState } from '../../workflows/contract';
import type { BenchNoopActivities } from '../lib/noop-activities';

const noopOn = (options: (typeof ACTIVITY_OPTIONS)[keyof typeof ACTIVITY_OPTIONS]) =>
  proxyActivities<BenchNoopActivities>(options).benchNoop;

export const noop = {
  quota: noopOn(ACTIVITY_OPTIONS.quota),
  orders: noopOn(ACTIVITY_OPTIONS.orders),
  inventory: noopOn(ACTIVITY_OPTIONS.inventory),
  payments: noopOn(ACTIVITY_OPTIONS.payments),
  cart: noopOn(ACTIVITY_OPTIONS.cart),
  notifications: noopOn(ACTIVITY_OPTIONS.notifications),
};

export function pendingCheckout(input: CheckoutInput): CheckoutState {
  return {
    orderId: input.orderId,
    customerId: input.customerId,
    status: 'PENDING',
    totalCents: orderTotalCents(input.lines),
    currency: input.currency,
    completedSteps: [],
    compensatedSteps: [],
    declinedAttempts: 0,
  };
}
