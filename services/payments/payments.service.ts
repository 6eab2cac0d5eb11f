/**
 * Payments: one Stripe PaymentIntent per order, confirmed once per payment attempt, and
 * refunded or cancelled by the saga's compensation. Every Stripe call carries an
 * idempotency key derived from the order (and attempt), so a retried activity, a
 * restarted worker or a duplicate request replays Stripe's first answer instead of
 * charging again.
 */
import Stripe from 'stripe';
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
  status: 'SUCCEEDED';
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

/** What a PaymentView is read with: the attempts in order, and the refund if there is one. */
const PAYMENT_DETAILS = { attempts: { orderBy: { attempt: 'asc' as const } }, refund: true } as const;

function toPaymentView(payment: Payment & { attempts: PaymentAttempt[]; refund: Refund | null }): PaymentView {
  return {
    orderId: payment.orderId,
    status: payment.status,
    amountCents: payment.amountCents,
    currency: payment.currency,
    paymentIntentId: payment.stripePaymentIntentId,
    attempts: payment.attempts.map((a) => ({ attempt: a.attempt, outcome: a.outcome, declineCode: a.declineCode })),
    refunded: payment.refund !== null,
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
      throw new DomainError('ORDER_NOT_PAYABLE', `The payment of order ${input.orderId} was ${payment.status.toLowerCase()}`);
    }

    // An earlier try may have charged and then lost the answer (timeout, crash): look first.
    const intent = await this.intentFor(payment);
    if (intent.status === 'succeeded') return this.markSucceeded(payment.id, intent.id, input.attempt);

    await this.db.paymentAttempt.upsert({
      where: { paymentId_attempt: { paymentId: payment.id, attempt: input.attempt } },
      create: { paymentId: payment.id, attempt: input.attempt, paymentMethod: input.paymentMethod },
      update: {},
    });

    let confirmed: Stripe.PaymentIntent;
    try {
      confirmed = await this.stripe.paymentIntents.confirm(
        intent.id,
        { payment_method: input.paymentMethod },
        { idempotencyKey: idempotencyKeys.confirm(input.orderId, input.attempt) },
      );
    } catch (error) {
      if (error instanceof Stripe.errors.StripeCardError) {
        const declineCode = error.decline_code ?? error.code ?? 'card_declined';
        await this.recordDecline(payment.id, input.attempt, declineCode, error.message);
        throw new DomainError('PAYMENT_DECLINED', error.message, { declineCode });
      }
      throw error; // Outcome unknown: the activity retries, and the next try looks the intent up first.
    }

    if (confirmed.status === 'succeeded' || confirmed.status === 'processing' || this.gateway.stateless) {
      return this.markSucceeded(payment.id, confirmed.id, input.attempt);
    }
    // requires_action (3-D Secure) and the like cannot be completed by this server-side flow.
    await this.recordDecline(payment.id, input.attempt, confirmed.status, `Payment needs ${confirmed.status}`);
    throw new DomainError('PAYMENT_DECLINED', `The payment could not be completed (${confirmed.status})`, { declineCode: confirmed.status });
  }

  /**
   * Compensation for charge: refunds a charge that succeeded, cancels an intent that did
   * not, and does nothing when there is no payment. For an intent in an unknown state it
   * asks Stripe before deciding. Idempotent.
   */
  async refundOrCancel(orderId: string, reason = 'requested_by_customer'): Promise<RefundOrCancelResult> {
    const payment = await this.db.payment.findUnique({ where: { orderId } });
    if (!payment) return { action: 'none' };
    const paymentIntentId = payment.stripePaymentIntentId ?? undefined;
    if (payment.status === 'REFUNDED') return { action: 'refunded', paymentIntentId };
    if (payment.status === 'CANCELED') return { action: 'canceled', paymentIntentId };

    let chargedAtStripe = payment.status === 'SUCCEEDED';
    if (!chargedAtStripe && paymentIntentId && !this.gateway.stateless) {
      const intent = await this.stripe.paymentIntents.retrieve(paymentIntentId);
      chargedAtStripe = intent.status === 'succeeded';
    }

    if (chargedAtStripe && paymentIntentId) {
      const refund = await this.stripe.refunds.create(
        { payment_intent: paymentIntentId, reason: 'requested_by_customer', metadata: { orderId } },
        { idempotencyKey: idempotencyKeys.refund(orderId) },
      );
      await this.db.$transaction(async (tx) => {
        await tx.refund.upsert({
          where: { paymentId: payment.id },
          create: { paymentId: payment.id, stripeRefundId: refund.id, amountCents: payment.amountCents, reason },
          update: {},
        });
        await tx.payment.update({ where: { id: payment.id }, data: { status: 'REFUNDED' } });
      });
      return { action: 'refunded', paymentIntentId };
    }

    if (paymentIntentId) {
      try {
        await this.stripe.paymentIntents.cancel(paymentIntentId, {}, { idempotencyKey: idempotencyKeys.cancel(orderId) });
      } catch (error) {
        // An intent Stripe already cancelled is what we want.
        if (!(error instanceof Stripe.errors.StripeInvalidRequestError && error.code === 'payment_intent_unexpected_state')) throw error;
      }
    }
    await this.db.payment.update({ where: { id: payment.id }, data: { status: 'CANCELED' } });
    return { action: paymentIntentId ? 'canceled' : 'none', paymentIntentId };
  }

  async get(orderId: string): Promise<PaymentView | null> {
    const payment = await this.db.payment.findUnique({ where: { orderId }, include: PAYMENT_DETAILS });
    return payment ? toPaymentView(payment) : null;
  }

  /** The payments of several orders in one query (a customer's order list), by order id. */
  async getForOrders(orderIds: readonly string[]): Promise<Map<string, PaymentView>> {
    const payments = await this.db.payment.findMany({ where: { orderId: { in: [...orderIds] } }, include: PAYMENT_DETAILS });
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

  private async paymentFor(input: ChargeInput): Promise<Payment> {
    const existing = await this.db.payment.findUnique({ where: { orderId: input.orderId } });
    if (existing) return existing;
    try {
      return await this.db.payment.create({ data: { orderId: input.orderId, amountCents: input.amountCents, currency: input.currency } });
    } catch (error) {
      if (isUniqueViolation(error)) return this.db.payment.findUniqueOrThrow({ where: { orderId: input.orderId } });
      throw error;
    }
  }

  /** The order's one PaymentIntent: looked up if we know it, else created under the order's key. */
  private async intentFor(payment: Payment): Promise<Stripe.PaymentIntent> {
    if (payment.stripePaymentIntentId) return this.stripe.paymentIntents.retrieve(payment.stripePaymentIntentId);
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
    await this.db.payment.update({ where: { id: payment.id }, data: { stripePaymentIntentId: intent.id } });
    return intent;
  }

  private async markSucceeded(paymentId: string, paymentIntentId: string, attempt: number): Promise<ChargeResult> {
    await this.db.$transaction(async (tx) => {
      await tx.payment.update({ where: { id: paymentId }, data: { status: 'SUCCEEDED', stripePaymentIntentId: paymentIntentId } });
      await tx.paymentAttempt.updateMany({ where: { paymentId, attempt }, data: { outcome: 'SUCCEEDED' } });
    });
    return { paymentId, paymentIntentId, status: 'SUCCEEDED' };
  }

  private async recordDecline(paymentId: string, attempt: number, declineCode: string, message: string): Promise<void> {
    await this.db.paymentAttempt.updateMany({
      where: { paymentId, attempt },
      data: { outcome: 'DECLINED', declineCode, failureMessage: message },
    });
  }
}

function succeeded(payment: Payment): ChargeResult {
  return { paymentId: payment.id, paymentIntentId: payment.stripePaymentIntentId ?? '', status: 'SUCCEEDED' };
}
