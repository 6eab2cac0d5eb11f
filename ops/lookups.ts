/**
 * Finding orders from what an operator is handed: a customer's email (a support ticket) or a
 * Stripe PaymentIntent id (Stripe's dashboard, a dispute). The accounts service knows the customer
 * behind an email, the payments service the order behind a PaymentIntent; Temporal does the rest.
 */
import type { Services } from '../services';
import type { Account } from '../services/accounts/accounts.service';
import type { PaymentView } from '../services/payments/payments.service';
import { OperationError } from './orders';

/** What the lookups read, in the accounts and payments services' own databases. */
export interface Lookups {
  accountByEmail(email: string): Promise<Account | null>;
  paymentByIntent(paymentIntentId: string): Promise<PaymentView | null>;
}

/** The accounts service's own rule, loose on purpose: one @, no spaces, a dot in the domain. */
const EMAIL = /^[^\s@]{1,64}@[^\s@]+\.[^\s@]+$/;
/** Stripe's PaymentIntent ids: `pi_` and letters and digits (the payments table holds at most 255 characters). */
const PAYMENT_INTENT_ID = /^pi_[A-Za-z0-9]{1,250}$/;

/** The account behind an email, refused clearly for a malformed or unknown one. */
export async function accountOfEmail(lookups: Lookups, email: string): Promise<Account> {
  if (email.length > 254 || !EMAIL.test(email.trim())) throw new OperationError(`"${email}" is not an email address`);
  const account = await lookups.accountByEmail(email);
  if (!account) throw new OperationError(`No account for ${email}`);
  return account;
}

/** The payment (and so the order) of a PaymentIntent, refused clearly for a malformed or unknown id. */
export async function paymentOfIntent(lookups: Lookups, paymentIntentId: string): Promise<PaymentView> {
  if (!PAYMENT_INTENT_ID.test(paymentIntentId))
    throw new OperationError(`"${paymentIntentId}" is not a PaymentIntent id (pi_...)`);
  const payment = await lookups.paymentByIntent(paymentIntentId);
  if (!payment) throw new OperationError(`No payment of this store has PaymentIntent ${paymentIntentId}`);
  return payment;
}

/**
 * Lookups over the services, opened on the first lookup only: the other commands never touch the
 * service databases. `close` closes them if they were opened.
 */
export function lookupsOver(open: () => Services): Lookups & { close(): Promise<void> } {
  let services: Services | undefined;
  const opened = () => (services ??= open());
  return {
    accountByEmail: (email) => opened().accounts.findByEmail(email),
    paymentByIntent: (paymentIntentId) => opened().payments.findByPaymentIntent(paymentIntentId),
    close: async () => services?.close(),
  };
}
