/**
 * An order's timeline as its customer reads it: every status it went through (placed, stock
 * reserved, paid, … each with its time, from the orders service's status history) and each refund
 * after the sale (from the payments service), oldest first. The reasons recorded with status
 * changes stay with operators: they may carry a service's own failure message.
 */
import type { OrderView } from '../services/orders/orders.service';
import type { RefundView } from '../services/payments/refunds.service';

export type TimelineEntry =
  | { at: string; kind: 'status'; status: OrderView['status']; from: OrderView['status'] | null }
  | {
      at: string;
      kind: 'refund';
      refundId: string;
      status: RefundView['status'];
      amountCents: number;
      currency: string;
      reason: string;
    };

export function orderTimeline(order: Pick<OrderView, 'history'>, refunds: readonly RefundView[]): TimelineEntry[] {
  const entries: TimelineEntry[] = [
    ...order.history.map((change): TimelineEntry => ({
      at: change.at.toISOString(),
      kind: 'status',
      status: change.to,
      from: change.from,
    })),
    ...refunds.map((refund): TimelineEntry => ({
      at: refund.createdAt.toISOString(),
      kind: 'refund',
      refundId: refund.id,
      status: refund.status,
      amountCents: refund.amountCents,
      currency: refund.currency,
      reason: refund.reason,
    })),
  ];
  // A stable sort: within one millisecond, status changes stay first.
  return entries.sort((a, b) => Date.parse(a.at) - Date.parse(b.at));
}
