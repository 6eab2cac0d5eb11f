/** Builds the Stripe SDK client: Stripe's test mode with a real key, or stripe-mock locally. */
import Stripe from 'stripe';

export interface StripeSettings {
  stripeSecretKey: string | undefined;
  stripeApiBase: string;
  /**
   * Talk to this base as to Stripe itself (real mode, not stripe-mock's stateless one): the tests'
   * recording proxy answering as Stripe would, so the real-Stripe paths run under test.
   */
  stripeLikeApiBase?: string;
}

export interface StripeGateway {
  stripe: Stripe;
  /**
   * True when talking to stripe-mock. It is stateless and answers every PaymentIntent with
   * a fixture whose status is `requires_payment_method`, so a confirmation that returns
   * without an error is taken as the charge having succeeded (see payments.service.ts).
   */
  stateless: boolean;
}

export function createStripeGateway(
  settings: StripeSettings,
  options: { timeoutMs?: number; maxNetworkRetries?: number } = {},
): StripeGateway {
  const common = { timeout: options.timeoutMs ?? 10_000, maxNetworkRetries: options.maxNetworkRetries ?? 0 };
  if (settings.stripeSecretKey && !settings.stripeLikeApiBase) {
    return { stripe: new Stripe(settings.stripeSecretKey, common), stateless: false };
  }
  const base = new URL(settings.stripeLikeApiBase ?? settings.stripeApiBase);
  // stripe-mock accepts only keys shaped sk_test_<one part> (401 for 'sk_test_stripe_mock');
  // the same key as the launcher's STRIPE_MOCK_KEY.
  const stripe = new Stripe('sk_test_123', {
    ...common,
    host: base.hostname,
    port: Number(base.port || (base.protocol === 'https:' ? 443 : 80)),
    protocol: base.protocol === 'https:' ? 'https' : 'http',
  });
  return { stripe, stateless: !settings.stripeLikeApiBase };
}
