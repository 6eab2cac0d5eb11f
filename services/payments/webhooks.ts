/** Stripe webhook verification: the signature over the raw body, within a tolerance against replays. */
import Stripe from 'stripe';
import { DomainError } from '../../lib/errors';
import { isUuid } from '../../lib/ids';

/** Stripe's own default: a signed event older than five minutes is refused. */
export const WEBHOOK_TOLERANCE_SECONDS = 300;

// Verification needs no API key or network; any well-formed key builds the helper.
const verifier = new Stripe('sk_test_webhook_verification_only');

export function verifyStripeEvent(
  rawBody: Buffer,
  signature: string | undefined,
  secret: string,
  toleranceSeconds = WEBHOOK_TOLERANCE_SECONDS,
): Stripe.Event {
  if (!signature) throw new DomainError('INVALID_SIGNATURE', 'Missing Stripe-Signature header');
  try {
    return verifier.webhooks.constructEvent(rawBody, signature, secret, toleranceSeconds);
  } catch (error) {
    if (error instanceof Stripe.errors.StripeSignatureVerificationError) {
      throw new DomainError(
        'INVALID_SIGNATURE',
        'The Stripe-Signature does not match the body, or the event is too old',
      );
    }
    throw error;
  }
}

/** Signs a payload as Stripe would; for tests and local tooling. */
export function signStripePayload(payload: string, secret: string, timestamp?: number): string {
  return verifier.webhooks.generateTestHeaderString({ payload, secret, ...(timestamp ? { timestamp } : {}) });
}

/** The order a payment event is about, from the metadata the payments service puts on every PaymentIntent. */
export function orderIdOf(event: Stripe.Event): string | undefined {
  const object = event.data?.object as { metadata?: Record<string, string> } | undefined;
  const orderId = object?.metadata?.orderId;
  return orderId && isUuid(orderId) ? orderId : undefined;
}
