/** The order as every part names it: the states of its status machine and what its lines cost. */

/**
 * The order status machine's states (docs/design.md "Services"): the one list the workflow, the orders
 * service, the API's schema and the operator commands derive their types and checks from.
 */
export const ORDER_STATUSES = [
  'PENDING',
  'AWAITING_PAYMENT',
  'PAID',
  'COMPLETED',
  'REJECTED',
  'EXPIRED',
  'CANCELLED',
  'FAILED',
  'NEEDS_ATTENTION',
  'PARTIALLY_REFUNDED',
  'REFUNDED',
] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

/** How a checkout ends: the statuses its saga (or an operator's retry or resolve) leaves an order in. */
export const CHECKOUT_END_STATUSES = [
  'COMPLETED',
  'REJECTED',
  'EXPIRED',
  'CANCELLED',
  'FAILED',
] as const satisfies readonly OrderStatus[];

/** Statuses no checkout changes again: how it ended, and what refunds after the sale made of a completed order. */
export const TERMINAL_ORDER_STATUSES = [
  ...CHECKOUT_END_STATUSES,
  'PARTIALLY_REFUNDED',
  'REFUNDED',
] as const satisfies readonly OrderStatus[];
export type TerminalOrderStatus = (typeof TERMINAL_ORDER_STATUSES)[number];

/**
 * A sold order: completed, and perhaps refunded since. Its stock stays sold (but for units a refund
 * put back on sale), its quota unit counted, and money may be refunded from it while some is left.
 */
export const SOLD_ORDER_STATUSES = [
  'COMPLETED',
  'PARTIALLY_REFUNDED',
  'REFUNDED',
] as const satisfies readonly OrderStatus[];
export const isSold = (status: OrderStatus | string): boolean =>
  (SOLD_ORDER_STATUSES as readonly string[]).includes(status);

export const isTerminalStatus = (status: OrderStatus): status is TerminalOrderStatus =>
  (TERMINAL_ORDER_STATUSES as readonly string[]).includes(status);

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
