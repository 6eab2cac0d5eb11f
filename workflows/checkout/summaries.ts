/**
 * What each checkout step does, in words, for operators in the Temporal Web UI: the
 * summaries attached to activity and timer commands (user metadata) and the workflow's
 * current details. Pure functions, so the workflow bundle and the checkout client share them.
 */
import type { OrderLineInput, OrderStatus } from '../contract';

/** Lines a summary names before it says "and N more": a summary is one short line in the UI. */
const NAMED_LINES = 4;

export function formatMoney(cents: number, currency: string): string {
  return `${(cents / 100).toFixed(2)} ${currency.toUpperCase()}`;
}

export function countUnits(lines: readonly Pick<OrderLineInput, 'quantity'>[]): number {
  return lines.reduce((sum, line) => sum + line.quantity, 0);
}

export function itemCount(units: number): string {
  return `${units} item${units === 1 ? '' : 's'}`;
}

/** "2 × SKU-123, 1 × SKU-9 and 3 more" */
export function describeLines(lines: readonly Pick<OrderLineInput, 'sku' | 'quantity'>[]): string {
  const named = lines
    .slice(0, NAMED_LINES)
    .map((line) => `${line.quantity} × ${line.sku}`)
    .join(', ');
  const rest = lines.length - NAMED_LINES;
  return rest > 0 ? `${named} and ${rest} more` : named;
}

function duration(seconds: number): string {
  if (seconds % 3600 === 0) return `${seconds / 3600} h`;
  if (seconds >= 60 && seconds % 60 === 0) return `${seconds / 60} min`;
  return `${seconds} s`;
}

/** One summary per kind of command the checkout saga issues. */
export const stepSummaries = {
  reserveOrderQuota: (customerId: string) => `Count 1 order against ${customerId}'s monthly quota`,
  releaseOrderQuota: (customerId: string) => `Give ${customerId}'s order quota back`,
  createOrder: (orderId: string, lines: readonly OrderLineInput[], totalCents: number, currency: string) =>
    `Record order ${orderId}: ${itemCount(countUnits(lines))}, ${formatMoney(totalCents, currency)}`,
  reserveStock: (lines: readonly OrderLineInput[]) => `Reserve ${describeLines(lines)}`,
  releaseStock: (orderId: string) => `Release the stock of order ${orderId}`,
  commitStock: (lines: readonly OrderLineInput[]) => `Sell the reserved ${describeLines(lines)}`,
  chargePayment: (totalCents: number, currency: string, attempt: number) =>
    `Charge ${formatMoney(totalCents, currency)} (attempt ${attempt})`,
  findPayment: (orderId: string) => `Read what was paid for order ${orderId} (the order was recorded before this run)`,
  refundPayment: (orderId: string) => `Refund or cancel the payment of order ${orderId}`,
  setOrderStatus: (status: OrderStatus) => `Mark the order ${status}`,
  clearCart: (customerId: string, lines: readonly OrderLineInput[]) =>
    `Remove the ${itemCount(countUnits(lines))} ordered from ${customerId}'s cart`,
  notifyStatus: (customerId: string, status: OrderStatus) => `Tell ${customerId} the order is ${status}`,
  notifyDeclined: (customerId: string, attempt: number) =>
    `Tell ${customerId} the card was declined (attempt ${attempt})`,
  expiryTimer: (ttlSeconds: number) => `Expire the order unless paid within ${duration(ttlSeconds)}`,
} as const;

/** The workflow's current details while it waits on an operator (the UI shows them on the workflow page). */
export function needsAttentionDetails(
  orderId: string,
  step: string,
  kind: 'undo' | 'forward',
  message: string,
): string {
  const [failed, byHand] =
    kind === 'undo' ? [`undoing ${step}`, 'it was undone by hand'] : [`finishing ${step}`, 'it was done by hand'];
  return (
    `NEEDS ATTENTION: ${failed} failed: ${message}. ` +
    `Fix the cause, then send the signal operatorAction with {"action":"retry"} to run it again, ` +
    `or {"action":"resolve","note":"..."} once ${byHand} (or: npm run ops -- retry|resolve ${orderId}).`
  );
}
