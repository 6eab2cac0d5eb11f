/**
 * The refund saga's activities, one per service call: record the refund, send it to Stripe, read it
 * and undo it (payments); put its units back on sale (inventory); record it on the order (orders).
 */
import type { RefundView, RecordRefundInput, RefundsService } from '../services/payments/refunds.service';
import type { RestockInput, RestockResult, RestocksService } from '../services/inventory/restocks';
import type { OrderRefundResult, OrderRefundsService, RecordOrderRefundInput } from '../services/orders/refunds';
import { withBusinessFailures } from '../lib/business-failures';

export type { RecordRefundInput } from '../services/payments/refunds.service';
export type { RestockInput, RestockResult } from '../services/inventory/restocks';
export type { OrderRefundResult, RecordOrderRefundInput } from '../services/orders/refunds';

/** A refund as an activity answers it (times as ISO strings: it crosses Temporal as JSON). */
export interface RecordedRefund {
  refundId: string;
  status: RefundView['status'];
  amountCents: number;
  stripeRefundId: string | null;
  failure: { code: string; message: string } | null;
}

export interface RefundRef {
  refundId: string;
}

export interface FailRefundInput extends RefundRef {
  code: string;
  message: string;
}

function recorded(refund: RefundView): RecordedRefund {
  const { id: refundId, status, amountCents, stripeRefundId, failure } = refund;
  return { refundId, status, amountCents, stripeRefundId, failure };
}

export function createRefundPaymentsActivities(deps: { refunds: RefundsService }) {
  const { refunds } = deps;
  return withBusinessFailures({
    /** Holds the refund's money against the payment (refused when more than is left), or answers the refund recorded before. */
    async recordRefund(input: RecordRefundInput): Promise<RecordedRefund> {
      return recorded(await refunds.record(input));
    },
    /** Gives the money back at Stripe (looked up first, sent once under the refund's key). */
    async refundAtStripe(input: RefundRef): Promise<RecordedRefund> {
      return recorded(await refunds.sendToStripe(input.refundId));
    },
    async findRefund(input: RefundRef): Promise<RecordedRefund> {
      const refund = await refunds.get(input.refundId);
      if (!refund) throw new Error(`No refund ${input.refundId}`);
      return recorded(refund);
    },
    /** The undo of recordRefund: a refund Stripe refused frees its money (one that went through is kept). */
    async failRefund(input: FailRefundInput): Promise<RecordedRefund> {
      return recorded(await refunds.fail(input.refundId, input.code, input.message));
    },
  });
}

export function createRestockActivities(deps: { restocks: RestocksService }) {
  const { restocks } = deps;
  return withBusinessFailures({
    async restockUnits(input: RestockInput): Promise<RestockResult> {
      return restocks.restock(input);
    },
  });
}

export function createOrderRefundActivities(deps: { orderRefunds: OrderRefundsService }) {
  const { orderRefunds } = deps;
  return withBusinessFailures({
    async recordOrderRefund(input: RecordOrderRefundInput): Promise<OrderRefundResult> {
      return orderRefunds.record(input);
    },
  });
}

export type RefundPaymentsActivities = ReturnType<typeof createRefundPaymentsActivities>;
export type RestockActivities = ReturnType<typeof createRestockActivities>;
export type OrderRefundActivities = ReturnType<typeof createOrderRefundActivities>;
