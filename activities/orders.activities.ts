/** Orders activities: create the order, and move it through its status machine. */
import type { OrderStatus } from '../workflows/contract';
import type { CreateOrderInput, OrdersService } from '../services/orders/orders.service';
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

export function createOrdersActivities(deps: { orders: OrdersService }) {
  const { orders } = deps;
  return withBusinessFailures({
    async createOrder(input: CreateOrderInput): Promise<OrderStatusResult> {
      const order = await orders.create(input);
      return { orderId: order.id, status: order.status, totalCents: order.totalCents };
    },
    async setOrderStatus(input: SetOrderStatusInput): Promise<OrderStatusResult> {
      const order = await orders.transition({
        orderId: input.orderId,
        to: input.status,
        reason: input.reason,
        failureCode: input.failureCode,
        expiresAt: input.expiresAt ? new Date(input.expiresAt) : undefined,
      });
      return { orderId: order.id, status: order.status, totalCents: order.totalCents };
    },
  });
}

export type OrdersActivities = ReturnType<typeof createOrdersActivities>;
