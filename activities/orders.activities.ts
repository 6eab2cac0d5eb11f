/** Orders activities: create the order, and move it through its status machine. */
import type { OrderStatus } from '../workflows/contract';
import type { CreateOrderInput, OrdersService, OrderSummary } from '../services/orders/orders.service';
import { withBusinessFailures } from '../lib/business-failures';

export type { CreateOrderInput } from '../services/orders/orders.service';

export interface SetOrderStatusInput {
  orderId: string;
  status: OrderStatus;
  reason?: string;
  failureCode?: string;
  /** ISO time; set when the order starts waiting for payment. */
  expiresAt?: string;
}

export interface OrderStatusResult {
  orderId: string;
  status: OrderStatus;
  totalCents: number;
}

/** The order as the orders service records it, for a run that finds it already there (a reset, a recovery run). */
export interface RecordedOrder extends OrderStatusResult {
  /** ISO time the order stops waiting for payment; null until it waits. */
  expiresAt: string | null;
  /** Whether it was ever PAID: a paid order only goes forward, whatever happened after. */
  paidBefore: boolean;
  failureCode: string | null;
  failureReason: string | null;
}

function recorded(order: OrderSummary): RecordedOrder {
  return {
    orderId: order.id,
    status: order.status,
    totalCents: order.totalCents,
    expiresAt: order.expiresAt?.toISOString() ?? null,
    paidBefore: order.paidBefore,
    failureCode: order.failureCode,
    failureReason: order.failureReason,
  };
}

export function createOrdersActivities(deps: { orders: OrdersService }) {
  const { orders } = deps;
  return withBusinessFailures({
    /** Records the order, or answers the one already recorded under its id (idempotent). */
    async createOrder(input: CreateOrderInput): Promise<RecordedOrder> {
      return recorded(await orders.record(input));
    },
    /** Moves the order on, and answers it as recorded (an earlier run may have set its deadline first). */
    async setOrderStatus(input: SetOrderStatusInput): Promise<RecordedOrder> {
      const order = await orders.move({
        orderId: input.orderId,
        to: input.status,
        reason: input.reason,
        failureCode: input.failureCode,
        expiresAt: input.expiresAt ? new Date(input.expiresAt) : undefined,
      });
      return recorded(order);
    },
  });
}

export type OrdersActivities = ReturnType<typeof createOrdersActivities>;
