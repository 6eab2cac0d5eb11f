/**
 * The activities the checkout saga calls, each service's through its own task queue and options
 * (activity-options.ts), and each call with the summary the Web UI shows for it, so that the story
 * (checkout.workflow.ts) names its steps and nothing else.
 */
import { proxyActivities } from '@temporalio/workflow';
import type { CartActivities } from '../../activities/cart.activities';
import type { InventoryActivities } from '../../activities/inventory.activities';
import type { OrdersActivities } from '../../activities/orders.activities';
import type { PaymentsActivities } from '../../activities/payments.activities';
import type { QuotaActivities } from '../../activities/quota.activities';
import { ACTIVITY_OPTIONS } from '../activity-options';
import type { CheckoutInput, OrderStatus } from '../contract';
import { stepSummaries as summaries } from './summaries';

const quota = proxyActivities<QuotaActivities>(ACTIVITY_OPTIONS.quota);
const orders = proxyActivities<OrdersActivities>(ACTIVITY_OPTIONS.orders);
/** The PAID and COMPLETED writes, past the commit point: they retry until they succeed. */
const ordersForwardOnly = proxyActivities<OrdersActivities>(ACTIVITY_OPTIONS.ordersForwardOnly);
const inventory = proxyActivities<InventoryActivities>(ACTIVITY_OPTIONS.inventory);
const payments = proxyActivities<PaymentsActivities>(ACTIVITY_OPTIONS.payments);
const cart = proxyActivities<CartActivities>(ACTIVITY_OPTIONS.cart);

const stockLines = (order: CheckoutInput) => order.lines.map(({ productId, quantity }) => ({ productId, quantity }));

/** The checkout's calls of one order, by what they do. */
export function checkoutCalls(order: CheckoutInput, totalCents: number) {
  const { orderId, customerId, lines, currency, idempotencyKey, requestHash, holdingLimits } = order;
  return {
    reserveQuota: () =>
      quota.reserveOrderQuota.executeWithOptions({ summary: summaries.reserveOrderQuota(customerId) }, [
        { userId: customerId, orderId },
      ]),
    releaseQuota: () =>
      quota.releaseOrderQuota.executeWithOptions({ summary: summaries.releaseOrderQuota(customerId) }, [
        { userId: customerId, orderId },
      ]),
    createOrder: () =>
      orders.createOrder.executeWithOptions({ summary: summaries.createOrder(orderId, lines, totalCents, currency) }, [
        { orderId, customerId, lines, currency, idempotencyKey, requestHash },
      ]),
    reserveStock: () =>
      inventory.reserveStock.executeWithOptions({ summary: summaries.reserveStock(lines) }, [
        { orderId, lines: stockLines(order), customerId, holdingLimits },
      ]),
    releaseStock: () =>
      inventory.releaseStock.executeWithOptions({ summary: summaries.releaseStock(orderId) }, [{ orderId }]),
    commitStock: () =>
      inventory.commitStock.executeWithOptions({ summary: summaries.commitStock(lines) }, [{ orderId }]),
    chargePayment: (paymentMethod: string, attempt: number) =>
      payments.chargePayment.executeWithOptions({ summary: summaries.chargePayment(totalCents, currency, attempt) }, [
        { orderId, amountCents: totalCents, currency, paymentMethod, attempt },
      ]),
    /** What Stripe's webhook said of a charge that answered `processing`, recorded on the payment. */
    settleProcessingPayment: (attempt: number, outcome: 'succeeded' | 'failed') =>
      payments.settleProcessingPayment({ orderId, attempt, outcome }),
    findPayment: () =>
      payments.findPayment.executeWithOptions({ summary: summaries.findPayment(orderId) }, [{ orderId }]),
    refundPayment: (reason?: string) =>
      payments.refundPayment.executeWithOptions({ summary: summaries.refundPayment(orderId) }, [{ orderId, reason }]),
    clearCart: () =>
      cart.clearCart.executeWithOptions({ summary: summaries.clearCart(customerId, lines) }, [
        { orderId, userId: customerId, lines: stockLines(order) },
      ]),
    /** Forward-only past the commit point: retried until it succeeds. */
    setStatus: (
      status: OrderStatus,
      extra: { reason?: string; failureCode?: string; expiresAt?: string },
      mode?: 'forward-only',
    ) =>
      (mode === 'forward-only' ? ordersForwardOnly : orders).setOrderStatus.executeWithOptions(
        { summary: summaries.setOrderStatus(status) },
        [{ orderId, status, ...extra }],
      ),
  };
}
