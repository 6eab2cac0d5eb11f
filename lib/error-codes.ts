/**
 * Every error code the storefront answers or records, with the HTTP status the API gives it: one
 * registry for the workflow (ApplicationFailure types), the services (DomainError codes) and the
 * API (error bodies). Pure data, so the workflow bundle may import it.
 */
export const HTTP_STATUS_BY_CODE = {
  VALIDATION_FAILED: 400,
  INVALID_JSON: 400,
  /**
   * Text PostgreSQL cannot store: a NUL (U+0000), a lone surrogate, or a body that is not UTF-8.
   * Refused by the API before anything runs (api/schemas.ts Text); docs/hostile-input.md.
   */
  UNSTORABLE_TEXT: 400,
  BAD_REQUEST: 400,
  /** A list's `cursor` that no answer of that list gave (lib/paging.ts). */
  INVALID_CURSOR: 400,
  CART_EMPTY: 400,
  UNKNOWN_PRODUCT: 400,
  MIXED_CURRENCIES: 400,
  INVALID_QUANTITY: 400,
  UNKNOWN_RESOURCE: 400,
  UNKNOWN_PLAN: 400,
  INVALID_SIGNATURE: 400,
  INVALID_EMAIL: 400,
  WEAK_PASSWORD: 400,
  /** A payload the codec endpoint cannot decrypt (unknown key id, tampered). */
  PAYLOAD_UNDECODABLE: 400,
  /** A password-reset or email-verification link that is unknown, used already or expired. */
  LINK_INVALID: 400,
  UNAUTHORIZED: 401,
  TOKEN_EXPIRED: 401,
  /** A wrong password and an unknown email alike. */
  INVALID_CREDENTIALS: 401,
  /** The card was declined; the order stays payable until it expires. */
  PAYMENT_DECLINED: 402,
  FORBIDDEN: 403,
  CSRF_REJECTED: 403,
  /** A password change whose current password is wrong (the session stays; nothing changes). */
  CURRENT_PASSWORD_WRONG: 403,
  /** An account places orders only once its email address is verified. */
  EMAIL_NOT_VERIFIED: 403,
  NOT_FOUND: 404,
  ROUTE_NOT_FOUND: 404,
  ORDER_NOT_FOUND: 404,
  PRODUCT_NOT_FOUND: 404,
  NOTIFICATION_NOT_FOUND: 404,
  ACCOUNT_NOT_FOUND: 404,
  RESERVATION_NOT_FOUND: 404,
  OUT_OF_STOCK: 409,
  /** The order would take the customer over their plan's holding limits (lib/holding-limits.ts). */
  HOLD_LIMIT_REACHED: 409,
  ORDER_NOT_PAYABLE: 409,
  ORDER_NOT_CANCELLABLE: 409,
  VERSION_CONFLICT: 409,
  SKU_TAKEN: 409,
  /** A stock delta that would take more than is available. */
  INSUFFICIENT_STOCK: 409,
  STOCK_LIMIT: 409,
  EMAIL_TAKEN: 409,
  /** A dev token asked for the id of a real account. */
  ACCOUNT_EXISTS: 409,
  INVALID_TRANSITION: 409,
  RESERVATION_RELEASED: 409,
  /** An operator's retry or resolve of an order that is not waiting for one (or whose failure is not the one named). */
  ORDER_NOT_PARKED: 409,
  /** A refund of an order that was never paid, or is not sold yet (still being fulfilled). */
  ORDER_NOT_REFUNDABLE: 409,
  /** Stripe refused a refund (nothing left to refund, too large): recorded on the refund, which ends FAILED. */
  REFUND_REFUSED: 409,
  /** More units put back on sale than the order sold: a restock the inventory refuses. */
  RESTOCK_EXCEEDS_SALE: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  IDEMPOTENCY_KEY_REUSED: 422,
  /** A refund of more money, or more units of a line, than is left to refund of the order. */
  REFUND_EXCEEDS_PAYMENT: 422,
  /** An order total above what Stripe can charge (lib/money.ts), refused before any workflow starts. */
  ORDER_TOO_LARGE: 422,
  ORDER_TOO_SMALL: 422,
  CART_FULL: 422,
  /** Stripe cannot use the payment method at all (unknown, detached, wrong type): send another one. */
  PAYMENT_METHOD_UNUSABLE: 422,
  /** Too many declined attempts on one order (card testing): the order ends and its stock returns. */
  PAYMENT_ATTEMPTS_EXHAUSTED: 409,
  /** Stripe refused the request for a reason no retry changes (not a decline). */
  PAYMENT_REJECTED: 409,
  QUOTA_EXCEEDED: 429,
  RATE_LIMITED: 429,
  /** One user's open notification streams on one instance are capped. */
  TOO_MANY_STREAMS: 429,
  TEMPORAL_UNAVAILABLE: 503,
  STREAM_UNAVAILABLE: 503,
  /** The bounded argon2 work (sign-in, sign-up, password change) is full: refused at once, try again in a moment. */
  AUTH_BUSY: 503,
  // Recorded on orders and in workflow state, never an HTTP answer of their own (500 if they were).
  INTERNAL: 500,
  /**
   * A service's database refused a value (SQLSTATE class 22, or 23 where no race explains it):
   * the same value fails every retry, so the activity fails at once (lib/business-failures.ts).
   */
  DATA_REJECTED: 500,
  FAILED: 500,
  COMPENSATION_FAILED: 500,
  /** A step past the commit point (the order is paid) failed past its retries; it is finished, never undone. */
  FORWARD_STEP_FAILED: 500,
  ORDER_REJECTED: 500,
  UPDATE_FAILED: 500,
  /** A recovery run (a reset, `npm run ops -- repair`) finished unwinding an order an earlier run had left mid-way. */
  ORDER_RECOVERED: 500,
} as const satisfies Record<string, number>;

export type ErrorCode = keyof typeof HTTP_STATUS_BY_CODE;

/** `ERROR_CODES.OUT_OF_STOCK === 'OUT_OF_STOCK'`: the codes by name, for code that compares them. */
export const ERROR_CODES = Object.fromEntries(Object.keys(HTTP_STATUS_BY_CODE).map((code) => [code, code])) as {
  readonly [C in ErrorCode]: C;
};

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.prototype.hasOwnProperty.call(HTTP_STATUS_BY_CODE, code);
}

/** The HTTP status of a code; an unregistered one is the server's fault. */
export function httpStatusOf(code: string): number {
  return isErrorCode(code) ? HTTP_STATUS_BY_CODE[code] : 500;
}
