/** The order status machine: which status may follow which. Pure, shared by the service and its tests. */
import { CHECKOUT_END_STATUSES, type OrderStatus } from '../../lib/orders';

export const ALLOWED_TRANSITIONS: Record<OrderStatus, readonly OrderStatus[]> = {
  PENDING: ['AWAITING_PAYMENT', 'REJECTED', 'CANCELLED', 'FAILED', 'NEEDS_ATTENTION'],
  AWAITING_PAYMENT: ['PAID', 'EXPIRED', 'CANCELLED', 'FAILED', 'NEEDS_ATTENTION'],
  PAID: ['COMPLETED', 'FAILED', 'NEEDS_ATTENTION'],
  // After the sale only refunds move an order (OrdersService.recordRefund).
  COMPLETED: ['PARTIALLY_REFUNDED', 'REFUNDED'],
  PARTIALLY_REFUNDED: ['REFUNDED'],
  REFUNDED: [],
  REJECTED: [],
  EXPIRED: [],
  CANCELLED: [],
  FAILED: [],
  // An operator's retry or resolve ends the order in the status its saga was heading for.
  NEEDS_ATTENTION: CHECKOUT_END_STATUSES,
};

export function canTransition(from: OrderStatus, to: OrderStatus): boolean {
  return ALLOWED_TRANSITIONS[from].includes(to);
}

/**
 * A forward-only status an order has already gone past: PAID asked of a COMPLETED order (a run
 * reset to before its PAID write finishes the order again). Nothing to do, and nothing refused.
 */
const ALREADY_PAST: Partial<Record<OrderStatus, readonly OrderStatus[]>> = {
  PAID: ['COMPLETED', 'PARTIALLY_REFUNDED', 'REFUNDED'],
  // A checkout run finishing an order again after it was refunded: the refunds stand.
  COMPLETED: ['PARTIALLY_REFUNDED', 'REFUNDED'],
};

export function hasGonePast(from: OrderStatus, to: OrderStatus): boolean {
  return ALREADY_PAST[to]?.includes(from) ?? false;
}

/**
 * The statuses from which an order moves to `to` (not those already in it or past it, which the
 * caller answers unchanged): what a conditional update to `to` may find the order in.
 */
export function statusesMovingTo(to: OrderStatus): OrderStatus[] {
  return (Object.keys(ALLOWED_TRANSITIONS) as OrderStatus[]).filter(
    (from) => from !== to && canTransition(from, to) && !hasGonePast(from, to),
  );
}
