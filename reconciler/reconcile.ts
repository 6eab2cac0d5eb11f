/**
 * One reconciliation: open the service databases (read-only use), run the invariants, and say
 * what was found in words an operator reads. `npm run ops -- reconcile` and the scheduled
 * reconciler both come through here.
 */
import { Pool } from 'pg';
import Stripe from 'stripe';
import type { ServiceName } from '../lib/service-names';
import {
  checkInvariants,
  INVARIANTS,
  type InvariantReport,
  type StripeRefund,
  type SucceededPaymentIntent,
} from './invariants';

export interface ReconcileOptions {
  /** Real Stripe (a secret key): its succeeded PaymentIntents are matched. Without one (stripe-mock) that invariant is skipped. */
  stripeSecretKey?: string;
  /** How far back PaymentIntents are listed (default 7 days). */
  paymentIntentWindowSeconds?: number;
  graceSeconds?: number;
  /** Whether an order's checkout workflow runs (temporal/checkout-client.ts checkoutRunning); without it stranded orders are not looked for. */
  checkoutRunning?: (orderId: string) => Promise<boolean>;
}

export async function reconcile(
  urls: Record<ServiceName, string>,
  options: ReconcileOptions = {},
): Promise<InvariantReport> {
  const services = ['inventory', 'orders', 'payments', 'quota'] as const;
  const pools = Object.fromEntries(
    services.map((service) => [service, new Pool({ connectionString: urls[service], max: 2 })]),
  ) as Record<(typeof services)[number], Pool>;
  try {
    return await checkInvariants({
      db: pools,
      graceSeconds: options.graceSeconds,
      checkoutRunning: options.checkoutRunning,
      ...(options.stripeSecretKey
        ? {
            paymentIntents: () =>
              stripePaymentIntents(options.stripeSecretKey!, options.paymentIntentWindowSeconds ?? 7 * 86_400),
            stripeRefunds: () =>
              stripeRefunds(options.stripeSecretKey!, options.paymentIntentWindowSeconds ?? 7 * 86_400),
          }
        : {}),
    });
  } finally {
    await Promise.all(Object.values(pools).map((pool) => pool.end()));
  }
}

/** Succeeded PaymentIntents created within the window, with the order the payments service put in their metadata. */
export async function stripePaymentIntents(
  secretKey: string,
  windowSeconds: number,
): Promise<SucceededPaymentIntent[]> {
  const stripe = new Stripe(secretKey);
  const since = Math.floor(Date.now() / 1000) - windowSeconds;
  const found: SucceededPaymentIntent[] = [];
  for await (const intent of stripe.paymentIntents.list({ created: { gte: since }, limit: 100 })) {
    if (intent.status === 'succeeded')
      found.push({ id: intent.id, orderId: intent.metadata?.orderId, amountCents: intent.amount_received });
  }
  return found;
}

/** Refunds Stripe made within the window (not failed or cancelled), with the order the store put in their metadata. */
export async function stripeRefunds(secretKey: string, windowSeconds: number): Promise<StripeRefund[]> {
  const stripe = new Stripe(secretKey);
  const since = Math.floor(Date.now() / 1000) - windowSeconds;
  const found: StripeRefund[] = [];
  for await (const refund of stripe.refunds.list({ created: { gte: since }, limit: 100 })) {
    if (refund.status === 'failed' || refund.status === 'canceled') continue;
    found.push({
      id: refund.id,
      amountCents: refund.amount,
      created: new Date(refund.created * 1000),
      orderId: refund.metadata?.orderId,
    });
  }
  return found;
}

/** The report as an operator reads it: each invariant with what it looked at, then every violation. */
export function formatReport(report: InvariantReport): string {
  const lines: string[] = [];
  for (const invariant of Object.values(INVARIANTS)) {
    const found = report.violations.filter((v) => v.invariant === invariant);
    const skipped = report.skipped[invariant];
    const state = skipped
      ? `skipped: ${skipped}`
      : found.length === 0
        ? `ok (${report.checked[invariant]} checked)`
        : `${found.length} VIOLATION${found.length === 1 ? '' : 'S'} (${report.checked[invariant]} checked)`;
    lines.push(`${invariant.padEnd(24)} ${state}`);
    for (const v of found)
      lines.push(
        `  - ${v.detail}${v.orderId ? `  [order ${v.orderId}]` : ''}${v.productId ? `  [product ${v.productId}]` : ''}`,
      );
  }
  lines.push(
    report.violations.length === 0
      ? 'no drift found'
      : `${report.violations.length} violation(s): see docs/reconciler.md for what to do`,
  );
  return lines.join('\n');
}
