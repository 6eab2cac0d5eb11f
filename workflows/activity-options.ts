/** Timeouts and retry policies of every activity the workflows call, in one place. */
import type { ActivityOptions } from '@temporalio/workflow';
import { TASK_QUEUES } from './contract';

/**
 * Forward steps and compensations: a database or network failure retries with backoff for
 * about a minute; a business failure is non-retryable and fails at once.
 */
const stepRetry = {
  initialInterval: '200 ms',
  backoffCoefficient: 2,
  maximumInterval: '10 s',
  maximumAttempts: 10,
} as const;

const serviceStep = (taskQueue: string): ActivityOptions => ({
  taskQueue,
  startToCloseTimeout: '10 s',
  retry: stepRetry,
});

export const ACTIVITY_OPTIONS = {
  quota: serviceStep(TASK_QUEUES.quota),
  orders: serviceStep(TASK_QUEUES.orders),
  inventory: serviceStep(TASK_QUEUES.inventory),
  payments: {
    ...serviceStep(TASK_QUEUES.payments),
    // Stripe may take a while; a timed-out try is looked up before anything is charged again.
    startToCloseTimeout: '30 s',
  },
  /** Clearing the cart is forward-only: it retries until it succeeds, it never undoes a paid order. */
  cart: {
    taskQueue: TASK_QUEUES.cart,
    startToCloseTimeout: '10 s',
    // No maximumAttempts: unlimited.
    retry: { initialInterval: stepRetry.initialInterval, backoffCoefficient: stepRetry.backoffCoefficient, maximumInterval: stepRetry.maximumInterval },
  },
  /** Pushing a status to the dashboard is best effort: the status itself is in the orders database. */
  notifications: {
    taskQueue: TASK_QUEUES.notifications,
    startToCloseTimeout: '10 s',
    scheduleToCloseTimeout: '30 s',
    retry: { ...stepRetry, maximumAttempts: 5 },
  },
  /**
   * An order status event for the dashboard, persisted while the saga goes on: it retries through
   * an outage of the notifications database (the chaos run cuts it for 10 s) and gives up only
   * after ten minutes; the status itself is in the orders database either way.
   */
  statusEvents: {
    taskQueue: TASK_QUEUES.notifications,
    startToCloseTimeout: '10 s',
    scheduleToCloseTimeout: '10 minutes',
    retry: { initialInterval: stepRetry.initialInterval, backoffCoefficient: stepRetry.backoffCoefficient, maximumInterval: stepRetry.maximumInterval },
  },
} satisfies Record<string, ActivityOptions>;
