/** Timeouts and retry policies of every activity the workflows call, in one place. */
import type { ActivityOptions, RetryPolicy } from '@temporalio/workflow';
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
} as const satisfies RetryPolicy;

/**
 * Past the saga's commit point there is no way back: retry until it succeeds (no maximumAttempts),
 * at most 2 s apart so that the sale goes on within 2 s of the outage's end.
 */
const untilItSucceeds = {
  initialInterval: stepRetry.initialInterval,
  backoffCoefficient: stepRetry.backoffCoefficient,
  maximumInterval: '2 s',
} as const satisfies RetryPolicy;

const serviceStep = (taskQueue: string): ActivityOptions => ({
  taskQueue,
  startToCloseTimeout: '10 s',
  retry: stepRetry,
});

export const ACTIVITY_OPTIONS = {
  quota: serviceStep(TASK_QUEUES.quota),
  orders: serviceStep(TASK_QUEUES.orders),
  /** The PAID and COMPLETED writes: the stock is sold, so they never give up (an outage only delays them). */
  ordersForwardOnly: { taskQueue: TASK_QUEUES.orders, startToCloseTimeout: '10 s', retry: untilItSucceeds },
  inventory: serviceStep(TASK_QUEUES.inventory),
  payments: {
    ...serviceStep(TASK_QUEUES.payments),
    // Stripe may take a while; a timed-out try is looked up before anything is charged again.
    startToCloseTimeout: '30 s',
    // The worker heartbeats for them while they run (worker/liveness-heartbeats.ts): a worker that
    // dies mid-charge is retried after 5 s, not after the 30 s above.
    heartbeatTimeout: '5 s',
  },
  /**
   * A refund at Stripe: retried until Stripe answers, each try looking the refund up first. Giving up
   * on an unknown outcome could leave money refunded that the store does not know of; a refusal
   * (nothing left to refund) is a business failure and ends the refund at once.
   */
  stripeRefunds: {
    taskQueue: TASK_QUEUES.payments,
    startToCloseTimeout: '30 s',
    heartbeatTimeout: '5 s',
    retry: untilItSucceeds,
  },
  /** A refund's steps after its money went back (units back on sale, the order's amount): they never give up. */
  inventoryForwardOnly: { taskQueue: TASK_QUEUES.inventory, startToCloseTimeout: '10 s', retry: untilItSucceeds },
  paymentsForwardOnly: { taskQueue: TASK_QUEUES.payments, startToCloseTimeout: '10 s', retry: untilItSucceeds },
  /** Clearing the cart is forward-only: it retries until it succeeds, it never undoes a paid order. */
  cart: { taskQueue: TASK_QUEUES.cart, startToCloseTimeout: '10 s', retry: untilItSucceeds },
  /** Telling the customer of a decline is best effort: the decline itself is the update's answer. */
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
    retry: untilItSucceeds,
  },
  /**
   * One reconciliation reads whole tables of four databases: minutes at most. A failed run retries
   * a few times; the next scheduled run comes anyway, so it never retries for long.
   */
  reconciler: {
    taskQueue: TASK_QUEUES.reconciler,
    startToCloseTimeout: '5 minutes',
    retry: { initialInterval: '5 s', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 3 },
  },
} satisfies Record<string, ActivityOptions>;

/**
 * The notification workflow's one activity. Its task queue is a setting (tests run it apart);
 * there is no attempt limit: a notification is never given up, its row is idempotent by dedupe key.
 */
export const notificationPersistOptions = (taskQueue: string = TASK_QUEUES.notifications): ActivityOptions => ({
  taskQueue,
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute' },
});
