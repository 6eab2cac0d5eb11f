/**
 * Payments: one Stripe PaymentIntent per order, confirmed once per payment attempt, and
 * refunded or cancelled by the saga's compensation. Every Stripe call carries an
 * idempotency key derived from the order (and attempt), so a retried activity, a
 * restarted worker or a duplicate request replays Stripe's first answer instead of
 * charging again.
 */
import Stripe from 'stripe';
import { v5 as uuidv5 } from 'uuid';
import { DomainError, isUniqueViolation } from '../../lib/errors';
import type { PaymentsDb } from './db';
import type { Payment, PaymentAttempt, PaymentStatus, Refund } from './generated/client';
import type { StripeGateway } from './stripe-client';

export interface ChargeInput {
  orderId: string;
  amountCents: number;
  currency: string;
  paymentMethod: string;
  /** Numbered by the workflow, so every retry of one attempt reuses its idempotency key. */
  attempt: number;
}

export interface ChargeResult {
  paymentId: string;
  paymentIntentId: string;
  /** PROCESSING: Stripe took the payment but settles it later; its webhook says how (see settleProcessing). */
  status: 'SUCCEEDED' | 'PROCESSING';
}

export interface SettleProcessingInput {
  orderId: string;
  attempt: number;
  /** What Stripe's webhook said of the intent that was processing. */
  outcome: 'succeeded' | 'failed';
}

export interface RefundOrCancelResult {
  /** What the compensation did: nothing to undo, the intent cancelled, or the charge refunded. */
  action: 'none' | 'canceled' | 'refunded';
  paymentIntentId?: string;
}

export interface PaymentView {
  orderId: string;
  status: PaymentStatus;
  amountCents: number;
  currency: string;
  paymentIntentId: string | null;
  attempts: { attempt: number; outcome: string | null; declineCode: string | null }[];
  refunded: boolean;
}

/** What a PaymentView is read with: the attempts in order, and the compensation's refund if there is one. */
const PAYMENT_DETAILS = {
  attempts: { orderBy: { attempt: 'asc' as const } },
  refunds: { where: { kind: 'COMPENSATION' as const } },
} as const;

/** Namespace of the compensation refunds' ids (one per payment, derived from the order); fixed forever. */
const COMPENSATION_REFUND_NAMESPACE = '0d7b8c52-7a0e-4d1b-9a54-3f6f2b8e9c17';

function toPaymentView(payment: Payment & { attempts: PaymentAttempt[]; refunds: Refund[] }): PaymentView {
  return {
    orderId: payment.orderId,
    status: payment.status,
    amountCents: payment.amountCents,
    currency: payment.currency,
    paymentIntentId: payment.stripePaymentIntentId,
    attempts: payment.attempts.map((a) => ({ attempt: a.attempt, outcome: a.outcome, declineCode: a.declineCode })),
    refunded: payment.refunds.length > 0,
  };
}

export const idempotencyKeys = {
  intent: (orderId: string) => `order:${orderId}:intent`,
  confirm: (orderId: string, attempt: number) => `order:${orderId}:confirm:${attempt}`,
  refund: (orderId: string) => `order:${orderId}:refund`,
  cancel: (orderId: string) => `order:${orderId}:cancel`,
};

export class PaymentsService {
  constructor(
    private readonly db: PaymentsDb,
    private readonly gateway: StripeGateway,
  ) {}

  private get stripe(): Stripe {
    return this.gateway.stripe;
  }

  async charge(input: ChargeInput): Promise<ChargeResult> {
    const payment = await this.paymentFor(input);
    if (payment.status === 'SUCCEEDED') return succeeded(payment);
    if (payment.status !== 'PENDING') {
      throw new DomainError(
        'ORDER_NOT_PAYABLE',
        `The payment of order ${input.orderId} was ${payment.status.toLowerCase()}`,
      );
    }

    // An earlier try may have charged and then lost the answer (timeout, crash): look first.
    const { intent, created } = await this.findOrCreateIntent(payment);
    // A new intent's id is recorded by this activity's next write, before anything else is sent to
    // Stripe: a crash before that write leaves nothing lost, the retry's create under the order's
    // key answers the same intent.
    if (intent.status === 'succeeded') return this.markSucceeded(payment.id, intent.id, input.attempt);
    if (intent.status === 'processing' && !this.gateway.stateless) {
      if (created) await this.recordIntent(payment.id, intent.id);
      return { paymentId: payment.id, paymentIntentId: intent.id, status: 'PROCESSING' };
    }

    await this.recordAttempt(payment.id, input, created ? intent.id : null);

    let confirmed: Stripe.PaymentIntent;
    try {
      confirmed = await this.stripe.paymentIntents.confirm(
        intent.id,
        { payment_method: input.paymentMethod },
        { idempotencyKey: idempotencyKeys.confirm(input.orderId, input.attempt) },
      );
    } catch (error) {
      const refusal = classifyStripeRefusal(error);
      if (!refusal) throw error; // Transport or Stripe 5xx: outcome unknown; the retry looks the intent up first.
      await this.recordDecline(payment.id, input.attempt, refusal.declineCode, refusal.message);
      throw new DomainError(refusal.code, refusal.message, { declineCode: refusal.declineCode });
    }

    // stripe-mock answers every confirmation with the same fixture: no error means it "succeeded".
    if (confirmed.status === 'succeeded' || this.gateway.stateless)
      return this.markSucceeded(payment.id, confirmed.id, input.attempt);
    if (confirmed.status === 'processing')
      return { paymentId: payment.id, paymentIntentId: confirmed.id, status: 'PROCESSING' };
    // requires_action (3-D Secure) and the like cannot be completed by this server-side flow.
    await this.recordDecline(payment.id, input.attempt, confirmed.status, `Payment needs ${confirmed.status}`);
    throw new DomainError('PAYMENT_DECLINED', `The payment could not be completed (${confirmed.status})`, {
      declineCode: confirmed.status,
    });
  }

  /** Records what Stripe's webhook said of a payment that was processing; idempotent. */
  async settleProcessing(input: SettleProcessingInput): Promise<void> {
    const payment = await this.db.payment.findUniqueOrThrow({ where: { orderId: input.orderId } });
    if (payment.status !== 'PENDING') return;
    if (input.outcome === 'succeeded') {
      await this.markSucceeded(payment.id, payment.stripePaymentIntentId ?? '', input.attempt);
    } else {
      await this.recordDecline(
        payment.id,
        input.attempt,
        'processing_failed',
        'The payment failed while Stripe processed it',
      );
    }
  }

  /**
   * Compensation for charge: refunds money that was taken, cancels an intent that took none,
   * and does nothing when there is no payment. Whatever the row says, Stripe's own view of the
   * intent decides (a charge whose answer was lost may have succeeded). Idempotent.
   */
  async refundOrCancel(orderId: string, reason = 'requested_by_customer'): Promise<RefundOrCancelResult> {
    const payment = await this.db.payment.findUnique({ where: { orderId } });
    if (!payment) return { action: 'none' };
    if (payment.status === 'REFUNDED')
      return { action: 'refunded', paymentIntentId: payment.stripePaymentIntentId ?? undefined };
    if (payment.status === 'CANCELED')
      return { action: 'canceled', paymentIntentId: payment.stripePaymentIntentId ?? undefined };

    if (payment.status === 'SUCCEEDED' && payment.stripePaymentIntentId)
      return this.refund(payment, payment.stripePaymentIntentId, reason);
    const known = payment.stripePaymentIntentId;
    // stripe-mock keeps no intents, so nothing can tell it whether a confirm whose answer was lost
    // went through. Its rule is the charge's (no error means it succeeded): a confirm sent and never
    // answered is taken to have taken the money, and refunded rather than cancelled.
    if (known && this.gateway.stateless && (await this.hasUnansweredAttempt(payment.id)))
      return this.refund(payment, known, reason);
    // A lost answer to the intent's creation leaves no id in the row: the same idempotency key finds it.
    // (stripe-mock's look-up answers a fixture that says nothing of this intent: not asked.)
    const intent =
      known && this.gateway.stateless
        ? { id: known, status: 'unknown' }
        : known
          ? await this.stripe.paymentIntents.retrieve(known)
          : await this.intentFor(payment);
    if (intent.status === 'succeeded' && !this.gateway.stateless) return this.refund(payment, intent.id, reason);
    if (intent.status === 'canceled') return this.markCanceled(payment, intent.id);
    try {
      await this.stripe.paymentIntents.cancel(intent.id, {}, { idempotencyKey: idempotencyKeys.cancel(orderId) });
    } catch (error) {
      // Stripe answers payment_intent_unexpected_state for an intent already cancelled, and also for
      // one that succeeded meanwhile (a processing payment settling): ask which before deciding.
      if (!(
        error instanceof Stripe.errors.StripeInvalidRequestError && error.code === 'payment_intent_unexpected_state'
      ))
        throw error;
      const now = await this.stripe.paymentIntents.retrieve(intent.id);
      if (now.status === 'succeeded') return this.refund(payment, intent.id, reason);
      if (now.status !== 'canceled')
        throw new Error(`Payment intent ${intent.id} is ${now.status}; it can be neither cancelled nor refunded yet`);
    }
    return this.markCanceled(payment, intent.id);
  }

  /** Whether a confirmation of the payment was sent (its attempt recorded) and its outcome never recorded. */
  private async hasUnansweredAttempt(paymentId: string): Promise<boolean> {
    return (await this.db.paymentAttempt.count({ where: { paymentId, outcome: null } })) > 0;
  }

  private async refund(payment: Payment, paymentIntentId: string, reason: string): Promise<RefundOrCancelResult> {
    const refund = await this.stripe.refunds.create(
      { payment_intent: paymentIntentId, reason: 'requested_by_customer', metadata: { orderId: payment.orderId } },
      { idempotencyKey: idempotencyKeys.refund(payment.orderId) },
    );
    await this.db.$transaction(async (tx) => {
      // One compensation per payment: its id is the order's, so a retry finds the row it wrote.
      await tx.refund.upsert({
        where: { id: uuidv5(payment.orderId, COMPENSATION_REFUND_NAMESPACE) },
        create: {
          id: uuidv5(payment.orderId, COMPENSATION_REFUND_NAMESPACE),
          paymentId: payment.id,
          orderId: payment.orderId,
          currency: payment.currency,
          stripeRefundId: refund.id,
          amountCents: payment.amountCents,
          reason,
        },
        update: {},
      });
      await tx.payment.update({ where: { id: payment.id }, data: { status: 'REFUNDED' } });
    });
    return { action: 'refunded', paymentIntentId };
  }

  private async markCanceled(payment: Payment, paymentIntentId: string): Promise<RefundOrCancelResult> {
    await this.db.payment.update({
      where: { id: payment.id },
      data: { status: 'CANCELED', stripePaymentIntentId: paymentIntentId },
    });
    return { action: 'canceled', paymentIntentId };
  }

  async get(orderId: string): Promise<PaymentView | null> {
    const payment = await this.db.payment.findUnique({ where: { orderId }, include: PAYMENT_DETAILS });
    return payment ? toPaymentView(payment) : null;
  }

  /** The payment a Stripe PaymentIntent belongs to (an operator's lookup from Stripe's dashboard or a dispute). */
  async findByPaymentIntent(paymentIntentId: string): Promise<PaymentView | null> {
    const payment = await this.db.payment.findUnique({
      where: { stripePaymentIntentId: paymentIntentId },
      include: PAYMENT_DETAILS,
    });
    return payment ? toPaymentView(payment) : null;
  }

  /** The payments of several orders in one query (a customer's order list), by order id. */
  async getForOrders(orderIds: readonly string[]): Promise<Map<string, PaymentView>> {
    const payments = await this.db.payment.findMany({
      where: { orderId: { in: [...orderIds] } },
      include: PAYMENT_DETAILS,
    });
    return new Map(payments.map((payment) => [payment.orderId, toPaymentView(payment)]));
  }

  /** Stores a webhook event once; false when it was seen before. */
  async recordWebhookEvent(event: { id: string; type: string; orderId?: string; payload: unknown }): Promise<boolean> {
    try {
      await this.db.webhookEvent.create({
        data: { id: event.id, type: event.type, orderId: event.orderId ?? null, payload: event.payload as object },
      });
      return true;
    } catch (error) {
      if (isUniqueViolation(error)) return false;
      throw error;
    }
  }

  /** Payments undone by a compensation: refunded after a charge, or cancelled before any money moved. */
  async countCompensated(): Promise<{ refunded: number; cancelled: number }> {
    const [refunded, cancelled] = await Promise.all([
      this.db.payment.count({ where: { status: 'REFUNDED' } }),
      this.db.payment.count({ where: { status: 'CANCELED' } }),
    ]);
    return { refunded, cancelled };
  }

  /** Whether a stored event has been relayed to its order already (false when unknown). */
  async isWebhookEventProcessed(id: string): Promise<boolean> {
    const event = await this.db.webhookEvent.findUnique({ where: { id } });
    return event?.processedAt != null;
  }

  async markWebhookEventProcessed(id: string): Promise<void> {
    await this.db.webhookEvent.updateMany({ where: { id, processedAt: null }, data: { processedAt: new Date() } });
  }

  /**
   * The order's payment, created on its first charge: one statement whatever the race, since the
   * unique order id decides (a twin in flight is waited for). The no-op update on conflict is what
   * makes RETURNING answer the existing row.
   */
  private async paymentFor(input: ChargeInput): Promise<Payment> {
    const { rows } = await this.db.sql.query<PaymentRow>(PAYMENT_FOR_ORDER, [
      input.orderId,
      input.amountCents,
      input.currency,
    ]);
    return fromPaymentRow(rows[0]!);
  }

  /** The order's one PaymentIntent, its id recorded on the payment. */
  private async intentFor(payment: Payment): Promise<Stripe.PaymentIntent> {
    const { intent, created } = await this.findOrCreateIntent(payment);
    if (created) await this.recordIntent(payment.id, intent.id);
    return intent;
  }

  /** The order's one PaymentIntent: looked up if we know it, else created under the order's key (not yet recorded). */
  private async findOrCreateIntent(payment: Payment): Promise<{ intent: Stripe.PaymentIntent; created: boolean }> {
    if (payment.stripePaymentIntentId)
      return { intent: await this.stripe.paymentIntents.retrieve(payment.stripePaymentIntentId), created: false };
    // Stripe answers a repeated create with the same key with the intent it made the first time.
    const intent = await this.stripe.paymentIntents.create(
      {
        amount: payment.amountCents,
        currency: payment.currency,
        metadata: { orderId: payment.orderId },
        automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
      },
      { idempotencyKey: idempotencyKeys.intent(payment.orderId) },
    );
    return { intent, created: true };
  }

  private async recordIntent(paymentId: string, paymentIntentId: string): Promise<void> {
    await this.db.sql.query(RECORD_INTENT, [paymentId, paymentIntentId]);
  }

  /** The confirmation about to be sent (and a new intent's id) in one statement; a retry of the attempt keeps its row. */
  private async recordAttempt(paymentId: string, input: ChargeInput, newIntentId: string | null): Promise<void> {
    await this.db.sql.query(RECORD_ATTEMPT, [paymentId, input.attempt, input.paymentMethod, newIntentId]);
  }

  /** The payment and its attempt succeeded, in one statement (both or neither). */
  private async markSucceeded(paymentId: string, paymentIntentId: string, attempt: number): Promise<ChargeResult> {
    await this.db.sql.query(MARK_SUCCEEDED, [paymentId, paymentIntentId, attempt]);
    return { paymentId, paymentIntentId, status: 'SUCCEEDED' };
  }

  private async recordDecline(paymentId: string, attempt: number, declineCode: string, message: string): Promise<void> {
    await this.db.sql.query(RECORD_DECLINE, [paymentId, attempt, declineCode, message]);
  }
}

/**
 * Stripe's refusals that no retry changes, as the code the workflow and the API answer with; undefined
 * for what may go through on a retry (network, Stripe 5xx, rate limits), whose outcome is unknown.
 */
export function classifyStripeRefusal(
  error: unknown,
):
  | { code: 'PAYMENT_DECLINED' | 'PAYMENT_METHOD_UNUSABLE' | 'PAYMENT_REJECTED'; declineCode: string; message: string }
  | undefined {
  if (error instanceof Stripe.errors.StripeCardError) {
    return {
      code: 'PAYMENT_DECLINED',
      declineCode: error.decline_code ?? error.code ?? 'card_declined',
      message: error.message,
    };
  }
  if (error instanceof Stripe.errors.StripeInvalidRequestError) {
    // An unknown, detached or unsuitable payment method: the customer can send another one.
    const aboutPaymentMethod =
      error.param === 'payment_method' ||
      error.code === 'resource_missing' ||
      (error.code ?? '').startsWith('payment_method_');
    return {
      code: aboutPaymentMethod ? 'PAYMENT_METHOD_UNUSABLE' : 'PAYMENT_REJECTED',
      declineCode: error.code ?? 'invalid_request',
      message: error.message,
    };
  }
  if (error instanceof Stripe.errors.StripeIdempotencyError)
    return { code: 'PAYMENT_REJECTED', declineCode: 'idempotency_error', message: error.message };
  return undefined;
}

function succeeded(payment: Payment): ChargeResult {
  return { paymentId: payment.id, paymentIntentId: payment.stripePaymentIntentId ?? '', status: 'SUCCEEDED' };
}

/** $1 order, $2 amount, $3 currency: the order's payment, inserted PENDING unless it exists. */
const PAYMENT_FOR_ORDER = `
  INSERT INTO payments (id, order_id, amount_cents, currency, updated_at)
  VALUES (gen_random_uuid(), $1, $2, $3, now())
  ON CONFLICT (order_id) DO UPDATE SET order_id = excluded.order_id
  RETURNING id, order_id, amount_cents, currency, status, stripe_payment_intent_id, created_at, updated_at`;

/** $1 payment, $2 intent id. */
const RECORD_INTENT = `UPDATE payments SET stripe_payment_intent_id = $2, updated_at = now() WHERE id = $1`;

/** $1 payment, $2 attempt, $3 payment method, $4 a new intent's id to record (null: known already). */
const RECORD_ATTEMPT = `
  WITH intent AS (
    UPDATE payments SET stripe_payment_intent_id = $4, updated_at = now()
    WHERE id = $1 AND $4::text IS NOT NULL
  )
  INSERT INTO payment_attempts (payment_id, attempt, payment_method) VALUES ($1, $2, $3)
  ON CONFLICT (payment_id, attempt) DO NOTHING`;

/** $1 payment, $2 intent id, $3 attempt. */
const MARK_SUCCEEDED = `
  WITH paid AS (
    UPDATE payments SET status = 'SUCCEEDED', stripe_payment_intent_id = $2, updated_at = now() WHERE id = $1
  )
  UPDATE payment_attempts SET outcome = 'SUCCEEDED' WHERE payment_id = $1 AND attempt = $3`;

/** $1 payment, $2 attempt, $3 decline code, $4 Stripe's message. */
const RECORD_DECLINE = `
  UPDATE payment_attempts SET outcome = 'DECLINED', decline_code = $3, failure_message = $4
  WHERE payment_id = $1 AND attempt = $2`;

interface PaymentRow {
  id: string;
  order_id: string;
  amount_cents: number;
  currency: string;
  status: PaymentStatus;
  stripe_payment_intent_id: string | null;
  created_at: Date;
  updated_at: Date;
}

function fromPaymentRow(row: PaymentRow): Payment {
  return {
    id: row.id,
    orderId: row.order_id,
    amountCents: row.amount_cents,
    currency: row.currency,
    status: row.status,
    stripePaymentIntentId: row.stripe_payment_intent_id,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
