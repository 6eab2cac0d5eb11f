/**
 * The bounds on money and order size (docs/design.md "Money is bounded"), one definition for the API's
 * schemas, the order placement, the services and the database CHECKs that mirror them
 * (docs/hostile-input.md). Pure, so any layer may import it.
 */
import { DomainError } from './errors';

/** The largest price of one unit: what Stripe can charge in one PaymentIntent. */
export const MAX_PRICE_CENTS = 99_999_999;
/** An order's total must lie in this range: Stripe's minimum charge (0.50 of a two-decimal currency) and its maximum. */
export const MIN_ORDER_CENTS = 50;
export const MAX_ORDER_CENTS = 99_999_999;
/** Distinct products in one order (and in one cart, which becomes an order). */
export const MAX_LINES_PER_ORDER = 50;
/** Units of one product in one order or cart line, after repeated lines are merged. */
export const MAX_QUANTITY = 1_000;

/**
 * Currencies the store takes: two-decimal ISO 4217 currencies Stripe charges in, so that "cents"
 * always means 1/100 of the unit and one minimum fits them all. Zero-decimal (jpy, krw) and
 * three-decimal (kwd, bhd) currencies would need their exponents handled; they get 400.
 */
export const CURRENCIES = [
  'usd',
  'eur',
  'gbp',
  'cad',
  'aud',
  'nzd',
  'chf',
  'sek',
  'nok',
  'dkk',
  'pln',
  'czk',
  'sgd',
  'hkd',
  'mxn',
  'brl',
] as const;
export type Currency = (typeof CURRENCIES)[number];

export const MONEY_ERROR_CODES = {
  orderTooLarge: 'ORDER_TOO_LARGE',
  orderTooSmall: 'ORDER_TOO_SMALL',
  invalidQuantity: 'INVALID_QUANTITY',
} as const;

interface PricedQuantity {
  quantity: number;
  unitPriceCents: number;
}

/**
 * Refuses an order outside the bounds. Lines are the merged ones (one per product). With at most
 * 50 lines of at most 1,000 units at most 99,999,999 cents, the sum stays below 2^53, so computing
 * it in JavaScript numbers is exact; only the checked total ever reaches an int4 column.
 */
export function assertOrderWithinBounds(lines: readonly PricedQuantity[], totalCents: number): void {
  if (lines.length > MAX_LINES_PER_ORDER) {
    throw new DomainError(
      MONEY_ERROR_CODES.orderTooLarge,
      `An order has at most ${MAX_LINES_PER_ORDER} different products, this one ${lines.length}`,
    );
  }
  const tooMany = lines.find((line) => line.quantity > MAX_QUANTITY);
  if (tooMany)
    throw new DomainError(
      MONEY_ERROR_CODES.invalidQuantity,
      `At most ${MAX_QUANTITY} units of one product per order, not ${tooMany.quantity}`,
    );
  if (totalCents > MAX_ORDER_CENTS) {
    throw new DomainError(
      MONEY_ERROR_CODES.orderTooLarge,
      `The order total ${totalCents} cents is above the maximum of ${MAX_ORDER_CENTS}`,
      { totalCents, maxCents: MAX_ORDER_CENTS },
    );
  }
  if (totalCents < MIN_ORDER_CENTS) {
    throw new DomainError(
      MONEY_ERROR_CODES.orderTooSmall,
      `The order total ${totalCents} cents is below the minimum of ${MIN_ORDER_CENTS}`,
      { totalCents, minCents: MIN_ORDER_CENTS },
    );
  }
}
