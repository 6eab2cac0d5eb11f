/**
 * What a payment method is, for the API's schema and the checkout's pay validator alike: a Stripe
 * PaymentMethod id, `pm_` and Stripe's id alphabet (letters, digits and underscores:
 * `pm_1Q0PsIJvEtkwdCNYMSaVuRz6`, or a test one such as `pm_card_visa`). Anything else, a raw card
 * number above all, is refused before it is stored in payment_attempts or a workflow's history.
 * Pure data: the workflow bundle may import it.
 */

/** Stripe's ids stay far below this; the column and the history need a bound. */
export const MAX_PAYMENT_METHOD_ID_LENGTH = 255;

/** The JSON Schema pattern of a PaymentMethod id (ajv counts code points; only ASCII matches anyway). */
export const PAYMENT_METHOD_ID_PATTERN = `^pm_[A-Za-z0-9_]{1,${MAX_PAYMENT_METHOD_ID_LENGTH - 3}}$`;

const PAYMENT_METHOD_ID = new RegExp(PAYMENT_METHOD_ID_PATTERN);

/** The sentence a refused payment method is answered with. */
export const PAYMENT_METHOD_RULE =
  "A payment method is a Stripe PaymentMethod id: 'pm_' and letters, digits or underscores";

export function isPaymentMethodId(value: unknown): value is string {
  return typeof value === 'string' && PAYMENT_METHOD_ID.test(value);
}
