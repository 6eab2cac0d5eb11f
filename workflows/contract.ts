/**
 * The contract between the storefront API, the workers, the tests and the workflows:
 * workflow ids, task queues, signals, queries, updates and their inputs and results.
 * Deterministic and free of side effects, so the workflow bundle may import it.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';

// ---------------------------------------------------------------------------
// Task queues: one per service, plus `checkout` for the workflows themselves and `reconciler`
// for the standing invariant checks (they read four services' databases, so no service's queue fits).
export const TASK_QUEUES = {
  checkout: 'checkout',
  inventory: 'inventory',
  orders: 'orders',
  payments: 'payments',
  cart: 'cart',
  quota: 'quota',
  notifications: 'notifications',
  reconciler: 'reconciler',
} as const;
export type TaskQueue = (typeof TASK_QUEUES)[keyof typeof TASK_QUEUES];

// ---------------------------------------------------------------------------
// Workflow ids.
export const orderWorkflowId = (orderId: string): string => `order-${orderId}`;
export const notificationWorkflowId = (userId: string): string => `notifications-${userId}`;
/** The reconciler's Temporal Schedule; each run it starts is `reconciler-<time>` (the Schedule appends the time). */
export const RECONCILER_SCHEDULE_ID = 'storefront-reconciler';
export const RECONCILER_WORKFLOW_ID = 'reconciler';

// ---------------------------------------------------------------------------
// Search attributes that operators filter on in the Temporal Web UI.
export const ORDER_STATUS_KEY = defineSearchAttributeKey('OrderStatus', SearchAttributeType.KEYWORD);
export const CUSTOMER_ID_KEY = defineSearchAttributeKey('CustomerId', SearchAttributeType.KEYWORD);

// ---------------------------------------------------------------------------
// Checkout.
// The order's statuses and lines are the store's vocabulary (lib/orders.ts): re-exported for the workflow's callers.
export {
  ORDER_STATUSES,
  TERMINAL_ORDER_STATUSES,
  isTerminalStatus,
  orderTotalCents,
  type OrderLineInput,
  type OrderStatus,
  type TerminalOrderStatus,
} from '../lib/orders';
import type { OrderLineInput, OrderStatus } from '../lib/orders';
import type { HoldingLimits } from '../lib/holding-limits';

export interface CheckoutInput {
  orderId: string;
  customerId: string;
  lines: OrderLineInput[];
  currency: string;
  /** How long the order waits for payment; the workflow's durable timer. */
  ttlSeconds: number;
  idempotencyKey?: string;
  requestHash?: string;
  /** The customer's plan's holding limits when the order was placed; the stock reservation enforces them. */
  holdingLimits?: HoldingLimits;
}

/** A forward step of the saga, as shown by the status query and the API. */
export type CheckoutStep =
  | 'quotaChecked'
  | 'orderCreated'
  | 'stockReserved'
  | 'paymentCharged'
  | 'stockCommitted'
  | 'orderPaid'
  | 'cartCleared'
  | 'customerNotified';

export interface CheckoutFailure {
  code: string;
  message: string;
}

export interface CheckoutState {
  orderId: string;
  customerId: string;
  status: OrderStatus;
  expiresAt?: string;
  totalCents: number;
  currency: string;
  completedSteps: CheckoutStep[];
  compensatedSteps: string[];
  failure?: CheckoutFailure;
  /** Declined payment attempts so far (the order stays payable until it expires). */
  declinedAttempts: number;
  paymentIntentId?: string;
  /**
   * Stripe webhook events relayed to this order, each once, at most MAX_KEPT_PAYMENT_EVENTS of
   * them. The charge's own answer decides the order, or the webhook when Stripe answered
   * `processing`; one that contradicts it is visible to operators here.
   */
  paymentEvents?: PaymentEventInput[];
  /** Events relayed after the cap was reached: counted, not kept (a flood must not grow the state). */
  paymentEventsBeyondCap?: number;
}

/** Webhook events an order keeps in its state; Stripe sends a handful per payment. */
export const MAX_KEPT_PAYMENT_EVENTS = 20;
/** Declined attempts an order allows before it ends with PAYMENT_ATTEMPTS_EXHAUSTED (a bound on card testing). */
export const MAX_DECLINED_ATTEMPTS = 5;

export type CheckoutResult = CheckoutState;

export interface PayInput {
  paymentMethod: string;
  /** Who asks: the API passes the authenticated user; the workflow refuses anyone else. */
  customerId: string;
}

export type PayResult = CheckoutState;

export interface CancelInput {
  reason?: string;
}

/** An operator's way out of NEEDS_ATTENTION. */
export interface OperatorActionInput {
  action: 'retry' | 'resolve';
  note?: string;
}

/**
 * Payment is an update that answers once the money is settled: the order PAID (stock sold), a
 * PAYMENT_DECLINED failure (still payable), or the order as it unwound (FAILED, CANCELLED...).
 */
export const payUpdate = defineUpdate<PayResult, [PayInput]>('pay');
/** The storefront cancels with an update, so it learns at once whether the cancel was accepted. */
export const cancelUpdate = defineUpdate<CheckoutState, [CancelInput]>('cancelOrder');
/** Operators cancel with a signal from the Temporal Web UI. */
export const cancelSignal = defineSignal<[CancelInput]>('cancel');
/** The Web UI's and older clients' way to send an operator's decision; the order ignores it unless parked. */
export const operatorActionSignal = defineSignal<[OperatorActionInput]>('operatorAction');
/** An operator's retry or resolve, as an update (`npm run ops -- retry|resolve`). */
export interface OperatorDecisionInput {
  note?: string;
  /** Refused unless the order's failure (`CODE: message`) contains this text: a batch's filter, checked atomically. */
  ifFailureContains?: string;
}
/** What the parked order took: the step it retries, or resolves as done by hand, and the failure it was parked for. */
export interface OperatorDecisionResult {
  orderId: string;
  action: OperatorActionInput['action'];
  step: string;
  failure: CheckoutFailure;
}
/**
 * The validator accepts or refuses at once (ORDER_NOT_PARKED when the order is not waiting for an
 * operator, or its failure is not the one named); an accepted one answers once the order took it.
 */
export const retryUpdate = defineUpdate<OperatorDecisionResult, [OperatorDecisionInput]>('retry');
export const resolveUpdate = defineUpdate<OperatorDecisionResult, [OperatorDecisionInput]>('resolve');
/** A Stripe webhook relayed by the API (payment_intent.succeeded / payment_failed). */
export interface PaymentEventInput {
  eventId: string;
  type: string;
  paymentIntentId: string;
}
export const paymentEventSignal = defineSignal<[PaymentEventInput]>('paymentEvent');
export const checkoutStateQuery = defineQuery<CheckoutState>('state');
/** What an operator asks before acting on an order (`npm run ops -- what-if`): the same saga decides it, nothing runs. */
export type WhatIfAction = 'cancel' | 'expire';
export const WHAT_IF_ACTIONS: readonly WhatIfAction[] = ['cancel', 'expire'];
export interface WhatIfAnswer {
  action: WhatIfAction;
  /** Why the order would not take it now; absent when it would. */
  refused?: string;
  /** The status the order would end in. */
  endsAs?: OrderStatus;
  /** The steps whose undos would run, in the saga's order: each inner list undone side by side. */
  undos: string[][];
  /** The first of them gives back a charge an earlier run of the order may have made (nothing without one). */
  earlierCharge?: boolean;
}
export const whatIfQuery = defineQuery<WhatIfAnswer, [WhatIfAction]>('whatIf');
/**
 * Answers once the order is placed: awaiting payment, or settled (rejected, failed...).
 * The API sends it with update-with-start, so POST /v1/orders answers with the reservation's outcome.
 */
export const placedUpdate = defineUpdate<CheckoutState, []>('placed');

// ---------------------------------------------------------------------------
// Refunds after the sale (workflows/refund/).
export * from './refund/refund.contract';

// ---------------------------------------------------------------------------
// Notifications.
export type NotificationKind = 'NOTIFICATION' | 'ORDER';

export interface NotifyInput {
  userId: string;
  kind: NotificationKind;
  /** e.g. 'quota.warning', 'quota.exceeded', 'order.status' */
  type: string;
  payload: Record<string, unknown>;
  /** One notification per key and user, however often it is sent. */
  dedupeKey: string;
}

export interface NotificationWorkflowInput {
  userId: string;
  /** Carried across continue-as-new so duplicates stay dropped. */
  seenDedupeKeys?: string[];
}

export const notifySignal = defineSignal<[NotifyInput]>('notify');

// ---------------------------------------------------------------------------
// The standing reconciler (reconciler/, docs/reconciler.md).
export type ReconcilerInput = Record<string, never>;

export interface ReconciliationResult {
  runId: string;
  /** Violations found, per invariant (skipped invariants absent). */
  violations: Record<string, number>;
  skipped: string[];
  /** Findings this run opened, found again, and closed as gone. */
  opened: number;
  seenAgain: number;
  gone: number;
  /** Admins told of the newly opened findings. */
  notified: number;
  /** Stranded orders this run started a recovery run for (never charged, past their deadline); the rest wait for an operator. */
  repaired?: number;
}
