/**
 * The refund saga's part of the contract (re-exported by workflows/contract.ts): its workflow id,
 * input, state, steps, and the update, signal and query the storefront and operators use.
 * Deterministic and free of side effects, so the workflow bundle may import it.
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { OrderStatus } from '../../lib/orders';

/** One refund after the sale; its id is derived from the order and the request's Idempotency-Key. */
export const refundWorkflowId = (refundId: string): string => `refund-${refundId}`;

/** Units of one product of the order. */
export interface RefundLine {
  productId: string;
  quantity: number;
}

export interface RefundInput {
  refundId: string;
  orderId: string;
  customerId: string;
  amountCents: number;
  currency: string;
  /** The units refunded (empty for a refund of an amount). */
  lines: RefundLine[];
  /** Units of each product the order sold: no line refunds more (checked with the money, atomically). */
  soldUnits: RefundLine[];
  /** Whether the refunded units go back on sale. */
  restock: boolean;
  reason: string;
  /** A hash of the request: the same Idempotency-Key with another body is refused. */
  requestHash: string;
  /** The admin (or `ops`) who asked: told when Stripe refuses. */
  requestedBy: string;
}

export type RefundStatus = 'PENDING' | 'SUCCEEDED' | 'FAILED';

/** A forward step of the refund saga, as its state shows it. */
export type RefundStep = 'refundRecorded' | 'moneyRefunded' | 'unitsRestocked' | 'orderRefunded' | 'customerNotified';

/** The dedupe keys of what a refund tells the customer and whoever asked: each notice once, however often sent. */
export const refundNoticeKeys = {
  succeeded: (refundId: string) => `refund:${refundId}:succeeded`,
  failed: (refundId: string) => `refund:${refundId}:failed`,
  /** The order's new status on the customer's dashboard, keyed as the checkout keys its own. */
  orderStatus: (orderId: string, status: OrderStatus) => `order:${orderId}:${status}`,
};

/**
 * The steps the refund saga runs for this input when Stripe says yes, in its order: units go back on
 * sale only when asked to and the refund names units. The saga follows it; `what-if ... refund` shows it.
 */
export function refundSteps(input: Pick<RefundInput, 'restock' | 'lines'>): RefundStep[] {
  const restocks = input.restock && input.lines.length > 0;
  return [
    'refundRecorded',
    'moneyRefunded',
    ...(restocks ? (['unitsRestocked'] as const) : []),
    'orderRefunded',
    'customerNotified',
  ];
}

export interface RefundState {
  refundId: string;
  orderId: string;
  /** PENDING until Stripe has said; FAILED when the payments service or Stripe refused it. */
  status: RefundStatus;
  amountCents: number;
  currency: string;
  requestHash: string;
  /** Whether the payments service recorded it (a refund refused for exceeding the payment never is). */
  recorded: boolean;
  completedSteps: RefundStep[];
  compensatedSteps: string[];
  failure?: { code: string; message: string };
  /** The order's status once the refund is recorded on it. */
  orderStatus?: OrderStatus;
  /** A forward step failed for good: the refund waits for an operator's retry or resolve. */
  needsAttention?: boolean;
}

/** Answers once the money is settled: recorded and answered by Stripe (SUCCEEDED, FAILED, or PENDING at Stripe), or refused. */
export const refundSettledUpdate = defineUpdate<RefundState, []>('refundSettled');
export const refundStateQuery = defineQuery<RefundState>('refundState');
/** Stripe's webhook said something of this refund: the workflow reads the refund again. */
export const refundEventSignal = defineSignal<[{ eventId: string; type: string }]>('refundEvent');
