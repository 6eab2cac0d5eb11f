/**
 * An order's refunds after the sale, as the orders service records them: each refund that went
 * through at Stripe adds its amount to the order once (by the refund's id), and moves the order to
 * PARTIALLY_REFUNDED, or REFUNDED once all its money is back.
 */
import { DomainError, isUniqueViolation } from '../../lib/errors';
import { isSold, type OrderStatus } from '../../lib/orders';
import type { OrdersDb } from './db';

export interface RecordOrderRefundInput {
  orderId: string;
  refundId: string;
  amountCents: number;
}

export interface OrderRefundResult {
  orderId: string;
  status: OrderStatus;
  refundedCents: number;
  totalCents: number;
}

/** A sold order's status once `refundedCents` of its `totalCents` are back. */
export function statusAfterRefund(refundedCents: number, totalCents: number): OrderStatus {
  return refundedCents >= totalCents ? 'REFUNDED' : 'PARTIALLY_REFUNDED';
}

export class OrderRefundsService {
  constructor(private readonly db: OrdersDb) {}

  /** Adds the refund to the order once; a refund recorded before changes nothing and answers the order as it is. */
  async record(input: RecordOrderRefundInput): Promise<OrderRefundResult> {
    try {
      return await this.db.$transaction(async (tx) => {
        const order = await tx.order.findUnique({ where: { id: input.orderId } });
        if (!order) throw new DomainError('ORDER_NOT_FOUND', `No order ${input.orderId}`);
        if (!isSold(order.status))
          throw new DomainError('ORDER_NOT_REFUNDABLE', `Order ${input.orderId} is ${order.status}, not sold`);
        await tx.orderRefund.create({ data: input });
        const refundedCents = order.refundedCents + input.amountCents;
        const status = statusAfterRefund(refundedCents, order.totalCents);
        // Conditional on the row as read: a concurrent refund makes this one read again (the unique refund id keeps it once).
        const updated = await tx.order.updateMany({
          where: { id: order.id, refundedCents: order.refundedCents, status: order.status },
          data: { refundedCents, status },
        });
        if (updated.count === 0) throw new ConcurrentRefund();
        if (status !== order.status)
          await tx.orderStatusChange.create({
            data: {
              orderId: order.id,
              fromStatus: order.status,
              toStatus: status,
              reason: `Refund ${input.refundId}: ${input.amountCents} cents`,
            },
          });
        return { orderId: order.id, status, refundedCents, totalCents: order.totalCents };
      });
    } catch (error) {
      if (error instanceof ConcurrentRefund) return this.record(input);
      if (!isUniqueViolation(error)) throw error;
      return this.current(input.orderId);
    }
  }

  /** The money refunded from an order so far. */
  async refundedCents(orderId: string): Promise<number> {
    const order = await this.db.order.findUnique({ where: { id: orderId }, select: { refundedCents: true } });
    return order?.refundedCents ?? 0;
  }

  private async current(orderId: string): Promise<OrderRefundResult> {
    const order = await this.db.order.findUniqueOrThrow({ where: { id: orderId } });
    return { orderId, status: order.status, refundedCents: order.refundedCents, totalCents: order.totalCents };
  }
}

class ConcurrentRefund extends Error {}
