/**
 * What a customer is told about a failed order. A failure's message can be anything an activity
 * threw: a Prisma or pg error, a Stripe API message, a compensation's stack of causes. Those stay
 * for operators (the workflow's history in Temporal, `npm run ops -- show`, the worker's logs); the
 * customer gets the message only for codes whose messages this code base writes for people, and a
 * plain sentence per code otherwise.
 */

/** Business refusals: their messages are written by the services for the customer (DomainError), or by Stripe for the card holder. */
const CUSTOMER_SAFE_CODES: ReadonlySet<string> = new Set([
  'OUT_OF_STOCK',
  'HOLD_LIMIT_REACHED',
  'UNKNOWN_PRODUCT',
  'QUOTA_EXCEEDED',
  'PAYMENT_DECLINED',
  'ORDER_NOT_PAYABLE',
  'ORDER_TOO_LARGE',
  'ORDER_TOO_SMALL',
  'INVALID_QUANTITY',
  'MIXED_CURRENCIES',
]);

const GENERIC_MESSAGES: Record<string, string> = {
  COMPENSATION_FAILED: 'This order could not be undone automatically; our team has been told and will finish it.',
  FORWARD_STEP_FAILED: 'Your order is paid; finishing it needs our team, who have been told and will complete it.',
};
const DEFAULT_MESSAGE =
  'This order could not be completed because of a problem on our side. Any payment taken will be refunded.';

export interface CustomerFailure {
  code: string;
  message: string;
}

export function customerFailure(failure: CustomerFailure): CustomerFailure {
  if (CUSTOMER_SAFE_CODES.has(failure.code)) return failure;
  return { code: failure.code, message: GENERIC_MESSAGES[failure.code] ?? DEFAULT_MESSAGE };
}

/** An order status event's payload as the customer sees it: its failure, if any, made customer-safe. */
export function customerOrderPayload(payload: Record<string, unknown>): Record<string, unknown> {
  const failure = payload.failure as Partial<CustomerFailure> | null | undefined;
  if (!failure || typeof failure !== 'object' || typeof failure.code !== 'string') return payload;
  return { ...payload, failure: customerFailure({ code: failure.code, message: String(failure.message ?? '') }) };
}
