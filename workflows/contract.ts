/**
 * The contract between the storefront API, the workers, the tests and the workflows:
 * workflow ids, task queues, signals, queries, updates and their inputs and results.
 * Deterministic and free of side effects, so the workflow bundle may import it.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';

// ---------------------------------------------------------------------------
// Task queues: one per service, plus `checkout` for the workflows themselves.
export const TASK_QUEUES = {
  checkout: 'checkout',
  inventory: 'inventory',
  orders: 'orders',
  payments: 'payments',
  cart: 'cart',
  quota: 'quota',
  notifications: 'notifications',
} as const;
export type TaskQueue = (typeof TASK_QUEUES)[keyof typeof TASK_QUEUES];

// ---------------------------------------------------------------------------
// Workflow ids.
export const orderWorkflowId = (orderId: string): string => `order-${orderId}`;
export const notificationWorkflowId = (userId: string): string => `notifications-${userId}`;

// ---------------------------------------------------------------------------
// Search attributes that operators filter on in the Temporal Web UI.
export const ORDER_STATUS_KEY = defineSearchAttributeKey('OrderStatus', SearchAttributeType.KEYWORD);
export const CUSTOMER_ID_KEY = defineSearchAttributeKey('CustomerId', SearchAttributeType.KEYWORD);

// ---------------------------------------------------------------------------
// Failure codes carried by non-retryable ApplicationFailures (their `type`).
export const FAILURE_CODES = {
  outOfStock: 'OUT_OF_STOCK',
  quotaExceeded: 'QUOTA_EXCEEDED',
  paymentDeclined: 'PAYMENT_DECLINED',
  orderNotPayable: 'ORDER_NOT_PAYABLE',
  invalidTransition: 'INVALID_TRANSITION',
  unknownProduct: 'UNKNOWN_PRODUCT',
} as const;
export type FailureCode = (typeof FAILURE_CODES)[keyof typeof FAILURE_CODES];

// ---------------------------------------------------------------------------
// Checkout.
export type OrderStatus =
  | 'PENDING'
  | 'AWAITING_PAYMENT'
  | 'PAID'
  | 'COMPLETED'
  | 'REJECTED'
  | 'EXPIRED'
  | 'CANCELLED'
  | 'FAILED'
  | 'NEEDS_ATTENTION';

export const TERMINAL_ORDER_STATUSES: readonly OrderStatus[] = ['COMPLETED', 'REJECTED', 'EXPIRED', 'CANCELLED', 'FAILED'];

export interface OrderLineInput {
  productId: string;
  sku: string;
  name: string;
  quantity: number;
  unitPriceCents: number;
}

/** What the order's lines cost, in cents: the workflow's total, and the memo and summary the storefront starts it with. */
export function orderTotalCents(lines: readonly OrderLineInput[]): number {
  return lines.reduce((sum, line) => sum + line.quantity * line.unitPriceCents, 0);
}

export interface CheckoutInput {
  orderId: string;
  customerId: string;
  lines: OrderLineInput[];
  currency: string;
  /** How long the order waits for payment; the workflow's durable timer. */
  ttlSeconds: number;
  idempotencyKey?: string;
  requestHash?: string;
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
   * Stripe webhook events relayed to this order, each once. The charge's own answer decides
   * the order; these confirm it, and one that contradicts it is visible to operators here.
   */
  paymentEvents?: PaymentEventInput[];
}

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

/** Payment is an update: the caller learns at once whether it was charged or declined. */
export const payUpdate = defineUpdate<PayResult, [PayInput]>('pay');
/** The storefront cancels with an update, so it learns at once whether the cancel was accepted. */
export const cancelUpdate = defineUpdate<CheckoutState, [CancelInput]>('cancelOrder');
/** Operators cancel with a signal from the Temporal Web UI. */
export const cancelSignal = defineSignal<[CancelInput]>('cancel');
export const operatorActionSignal = defineSignal<[OperatorActionInput]>('operatorAction');
/** A Stripe webhook relayed by the API (payment_intent.succeeded / payment_failed). */
export interface PaymentEventInput {
  eventId: string;
  type: string;
  paymentIntentId: string;
}
export const paymentEventSignal = defineSignal<[PaymentEventInput]>('paymentEvent');
export const checkoutStateQuery = defineQuery<CheckoutState>('state');
/**
 * Answers once the order is placed: awaiting payment, or settled (rejected, failed...).
 * The API sends it with update-with-start, so POST /v1/orders answers with the reservation's outcome.
 */
export const placedUpdate = defineUpdate<CheckoutState, []>('placed');

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
