/**
 * The activities the refund saga calls, each service's through its own task queue and options
 * (activity-options.ts), each with the summary the Web UI shows for it, so that the story
 * (refund.workflow.ts) names its steps and nothing else.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { NotificationActivities } from '../../activities/notifications.activities';
import type {
  OrderRefundActivities,
  RefundPaymentsActivities,
  RestockActivities,
} from '../../activities/refunds.activities';
import { ACTIVITY_OPTIONS } from '../activity-options';
import type { OrderStatus } from '../contract';
import { refundNoticeKeys, type RefundInput } from './refund.contract';
import { formatMoney, itemCount } from '../checkout/summaries';

const payments = proxyActivities<RefundPaymentsActivities>(ACTIVITY_OPTIONS.payments);
const stripe = proxyActivities<RefundPaymentsActivities>(ACTIVITY_OPTIONS.stripeRefunds);
const paymentsForwardOnly = proxyActivities<RefundPaymentsActivities>(ACTIVITY_OPTIONS.paymentsForwardOnly);
const inventory = proxyActivities<RestockActivities>(ACTIVITY_OPTIONS.inventoryForwardOnly);
const orders = proxyActivities<OrderRefundActivities>(ACTIVITY_OPTIONS.ordersForwardOnly);
const notifications = proxyActivities<NotificationActivities>(ACTIVITY_OPTIONS.notifications);
const statusEvents = proxyActivities<NotificationActivities>(ACTIVITY_OPTIONS.statusEvents);

const units = (input: RefundInput) => input.lines.reduce((sum, line) => sum + line.quantity, 0);

/** The refund saga's calls for one refund, by what they do. */
export function refundCalls(input: RefundInput) {
  const { refundId, orderId, customerId, amountCents, currency } = input;
  const money = formatMoney(amountCents, currency);
  return {
    recordRefund: () =>
      payments.recordRefund.executeWithOptions({ summary: `Hold ${money} of order ${orderId}'s payment for refund` }, [
        {
          refundId,
          orderId,
          amountCents,
          currency,
          lines: input.lines,
          soldUnits: input.soldUnits,
          restock: input.restock,
          reason: input.reason,
          requestHash: input.requestHash,
        },
      ]),
    /** The undo of recordRefund: frees the money of a refund Stripe refused. */
    failRefund: (code: string, message: string) =>
      paymentsForwardOnly.failRefund.executeWithOptions({ summary: `Mark the refund of ${money} failed (${code})` }, [
        { refundId, code, message },
      ]),
    refundAtStripe: () =>
      stripe.refundAtStripe.executeWithOptions({ summary: `Refund ${money} at Stripe (key refund:${refundId})` }, [
        { refundId },
      ]),
    findRefund: () =>
      payments.findRefund.executeWithOptions({ summary: `Read what Stripe said of the refund of ${money}` }, [
        { refundId },
      ]),
    restockUnits: () =>
      inventory.restockUnits.executeWithOptions({ summary: `Put ${itemCount(units(input))} back on sale` }, [
        { refundId, orderId, lines: input.lines },
      ]),
    recordOrderRefund: () =>
      orders.recordOrderRefund.executeWithOptions({ summary: `Record the refund of ${money} on order ${orderId}` }, [
        { orderId, refundId, amountCents },
      ]),
    /** Best effort: the refund is in the databases whether or not the customer hears of it. */
    notifyCustomer: (payload: Record<string, unknown>) =>
      notifications.notifyUser.executeWithOptions({ summary: `Tell ${customerId} of the refund of ${money}` }, [
        {
          userId: customerId,
          kind: 'NOTIFICATION',
          type: 'order.refunded',
          payload,
          dedupeKey: refundNoticeKeys.succeeded(refundId),
        },
      ]),
    /** The order's new status for the customer's open dashboard, as the checkout sends its own. */
    sendStatusEvent: (status: OrderStatus, refundedCents: number, totalCents: number) =>
      statusEvents.persistNotification.executeWithOptions({ summary: `Tell ${customerId} the order is ${status}` }, [
        {
          userId: customerId,
          kind: 'ORDER',
          type: 'order.status',
          dedupeKey: refundNoticeKeys.orderStatus(orderId, status),
          payload: { orderId, status, totalCents, refundedCents, currency, failure: null },
        },
      ]),
    /** Tells whoever asked that Stripe refused the refund (best effort; the refund's row says so too). */
    tellOperator: (failure: { code: string; message: string }) =>
      notifications.notifyUser.executeWithOptions({ summary: `Tell ${input.requestedBy} Stripe refused the refund` }, [
        {
          userId: input.requestedBy,
          kind: 'NOTIFICATION',
          type: 'refund.failed',
          payload: { orderId, refundId, amountCents, currency, failure },
          dedupeKey: refundNoticeKeys.failed(refundId),
        },
      ]),
  };
}
