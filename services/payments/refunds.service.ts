/**
 * Refunds after the sale: recorded against the order's payment under its row lock (so refunds that
 * arrive at once never add up to more than was captured), sent to Stripe under an idempotency key
 * from the refund's id, and settled by Stripe's answer or its webhook. A refund whose answer was
 * lost is looked up at Stripe before anything is sent again, as charges are.
 */
import Stripe from 'stripe';
import { DomainError } from '../../lib/errors';
import type { ErrorCode } from '../../lib/error-codes';
import { isUuid } from '../../lib/ids';
import type { PaymentsDb } from './db';
import type { Refund, RefundStatus } from './generated/client';
import type { StripeGateway } from './stripe-client';

export interface RefundLine {
  productId: string;
  quantity: number;
}

export interface RecordRefundInput {
  refundId: string;
  orderId: string;
  amountCents: number;
  currency: string;
  lines: RefundLine[];
  restock: boolean;
  reason: string;
  requestHash: string;
  /** Units of each product the order sold: a line's refunded units never exceed them. */
  soldUnits: RefundLine[];
}

export interface RefundView {
  id: string;
  orderId: string;
  status: RefundStatus;
  amountCents: number;
  currency: string;
  lines: RefundLine[];
  restock: boolean;
  reason: string;
  requestHash: string | null;
  stripeRefundId: string | null;
  failure: { code: string; message: string } | null;
  createdAt: Date;
}

export interface StripeRefundResult {
  refund: RefundView;
}

/** What a payment has left to refund, after the refunds that did not fail. */
export interface RefundableView {
  capturedCents: number;
  /** Succeeded and pending refunds: money no other refund may take. */
  refundedCents: number;
  currency: string;
  /** Units refunded per product (succeeded and pending refunds). */
  refundedUnits: Map<string, number>;
}

export const refundIdempotencyKey = (refundId: string) => `refund:${refundId}`;

/** Stripe's answers to a refund that no retry changes: the refund ends FAILED with Stripe's code. */
export const REFUND_REFUSED = 'REFUND_REFUSED' satisfies ErrorCode;

export function toRefundView(row: Refund): RefundView {
  return {
    id: row.id,
    orderId: row.orderId ?? '',
    status: row.status,
    amountCents: row.amountCents,
    currency: row.currency ?? 'usd',
    lines: (row.lines as unknown as RefundLine[]) ?? [],
    restock: row.restock,
    reason: row.reason ?? '',
    requestHash: row.requestHash,
    stripeRefundId: row.stripeRefundId,
    failure: row.failureCode ? { code: row.failureCode, message: row.failureMessage ?? row.failureCode } : null,
    createdAt: row.createdAt,
  };
}

export class RefundsService {
  constructor(
    private readonly db: PaymentsDb,
    private readonly gateway: StripeGateway,
  ) {}

  /**
   * Records a PENDING refund, or answers the one recorded under its id before. Decided under the
   * payment's row lock: of two refunds asking for the same money at once, the second sees the
   * first and is refused with REFUND_EXCEEDS_PAYMENT.
   */
  async record(input: RecordRefundInput): Promise<RefundView> {
    return this.db.$transaction(
      async (tx) => {
        const locked = await tx.$queryRaw<{ id: string }[]>`
          SELECT id FROM payments WHERE order_id = ${input.orderId}::uuid FOR UPDATE`;
        const earlier = await tx.refund.findUnique({ where: { id: input.refundId } });
        if (earlier) return sameRequest(earlier, input.requestHash);
        const payment = locked[0] ? await tx.payment.findUnique({ where: { id: locked[0].id } }) : null;
        if (!payment || payment.status !== 'SUCCEEDED' || !payment.stripePaymentIntentId)
          throw new DomainError(
            'ORDER_NOT_REFUNDABLE',
            `Order ${input.orderId} has no captured payment${payment ? ` (its payment is ${payment.status})` : ''}`,
          );
        if (payment.currency !== input.currency)
          throw new DomainError('MIXED_CURRENCIES', `The payment is in ${payment.currency}, not ${input.currency}`);
        const taken = await tx.refund.findMany({
          where: { paymentId: payment.id, kind: 'AFTER_SALE', status: { not: 'FAILED' } },
        });
        const left = refundable(payment.amountCents, payment.currency, taken);
        assertWithin(left, input);
        const row = await tx.refund.create({
          data: {
            id: input.refundId,
            paymentId: payment.id,
            orderId: input.orderId,
            kind: 'AFTER_SALE',
            status: 'PENDING',
            amountCents: input.amountCents,
            currency: input.currency,
            lines: input.lines as unknown as object,
            restock: input.restock,
            reason: input.reason,
            requestHash: input.requestHash,
          },
        });
        return toRefundView(row);
      },
      { maxWait: 10_000, timeout: 15_000 },
    );
  }

  /**
   * Gives the refund's money back at Stripe, once: a refund already settled is answered as it is; one
   * still PENDING is first looked up at Stripe by its id in the metadata (a try whose answer was lost
   * may have gone through), and only then created, under the refund's idempotency key. Stripe's
   * refusal (nothing left to refund, too large) marks it FAILED; a network error or a 5xx retries.
   */
  async sendToStripe(refundId: string): Promise<RefundView> {
    const row = await this.db.refund.findUniqueOrThrow({ where: { id: refundId }, include: { payment: true } });
    if (row.status !== 'PENDING' || row.stripeRefundId) return toRefundView(row);
    const paymentIntentId = row.payment.stripePaymentIntentId!;
    let refund = await this.lookUp(paymentIntentId, refundId);
    if (!refund) {
      try {
        refund = await this.gateway.stripe.refunds.create(
          {
            payment_intent: paymentIntentId,
            amount: row.amountCents,
            reason: 'requested_by_customer',
            metadata: { orderId: row.orderId ?? '', refundId },
          },
          { idempotencyKey: refundIdempotencyKey(refundId) },
        );
      } catch (error) {
        const refusal = refusalOf(error);
        if (!refusal) throw error;
        return this.fail(refundId, refusal.code, refusal.message);
      }
    }
    // stripe-mock answers every refund with one fixture: no error means it went through.
    const status = this.gateway.stateless ? 'succeeded' : refund.status;
    return this.settle(refundId, refund.id, status, refund.failure_reason ?? undefined);
  }

  /**
   * What Stripe said of a refund (its answer, or a webhook): succeeded, failed or still pending.
   * A settled refund keeps its outcome; idempotent.
   */
  async settle(refundId: string, stripeRefundId: string, stripeStatus: string | null, failureReason?: string) {
    const status: RefundStatus =
      stripeStatus === 'succeeded'
        ? 'SUCCEEDED'
        : stripeStatus === 'failed' || stripeStatus === 'canceled'
          ? 'FAILED'
          : 'PENDING';
    await this.db.refund.updateMany({
      where: { id: refundId, status: 'PENDING' },
      data: {
        stripeRefundId,
        status,
        ...(status === 'FAILED'
          ? { failureCode: REFUND_REFUSED, failureMessage: `Stripe could not refund: ${failureReason ?? stripeStatus}` }
          : {}),
      },
    });
    return toRefundView(await this.db.refund.findUniqueOrThrow({ where: { id: refundId } }));
  }

  /** A webhook's news of a Stripe refund, by Stripe's id: the refund it settles, if the store knows it. */
  async settleByStripeId(
    stripeRefundId: string,
    stripeStatus: string | null,
    failureReason?: string,
    refundId?: string,
  ): Promise<RefundView | undefined> {
    const row =
      (await this.db.refund.findUnique({ where: { stripeRefundId } })) ??
      (refundId && isUuid(refundId) ? await this.db.refund.findUnique({ where: { id: refundId } }) : null);
    if (!row || row.kind !== 'AFTER_SALE') return undefined;
    return this.settle(row.id, stripeRefundId, stripeStatus, failureReason);
  }

  /** The undo of recording: a refund Stripe refused frees its money. A refund that went through stays as it is. */
  async fail(refundId: string, code: string, message: string): Promise<RefundView> {
    await this.db.refund.updateMany({
      where: { id: refundId, status: 'PENDING' },
      data: { status: 'FAILED', failureCode: code, failureMessage: message },
    });
    return toRefundView(await this.db.refund.findUniqueOrThrow({ where: { id: refundId } }));
  }

  async get(refundId: string): Promise<RefundView | null> {
    const row = await this.db.refund.findUnique({ where: { id: refundId } });
    return row && row.kind === 'AFTER_SALE' ? toRefundView(row) : null;
  }

  /** An order's refunds after the sale, oldest first. */
  async listForOrder(orderId: string): Promise<RefundView[]> {
    const rows = await this.db.refund.findMany({
      where: { orderId, kind: 'AFTER_SALE' },
      orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
    });
    return rows.map(toRefundView);
  }

  /** What is left to refund of the order's payment; undefined when nothing was captured. */
  async refundable(orderId: string): Promise<RefundableView | undefined> {
    const payment = await this.db.payment.findUnique({ where: { orderId }, include: { refunds: true } });
    if (!payment || payment.status !== 'SUCCEEDED') return undefined;
    const taken = payment.refunds.filter((r) => r.kind === 'AFTER_SALE' && r.status !== 'FAILED');
    return refundable(payment.amountCents, payment.currency, taken);
  }

  /** The order's refund at Stripe with this refund's id in its metadata (none with stripe-mock, which keeps nothing). */
  private async lookUp(paymentIntentId: string, refundId: string): Promise<Stripe.Refund | undefined> {
    if (this.gateway.stateless) return undefined;
    for await (const refund of this.gateway.stripe.refunds.list({ payment_intent: paymentIntentId, limit: 100 }))
      if (refund.metadata?.refundId === refundId) return refund;
    return undefined;
  }
}

function sameRequest(earlier: Refund, requestHash: string): RefundView {
  if (earlier.requestHash !== requestHash)
    throw new DomainError('IDEMPOTENCY_KEY_REUSED', 'This Idempotency-Key was used for a different refund request');
  return toRefundView(earlier);
}

function refundable(capturedCents: number, currency: string, taken: Refund[]): RefundableView {
  const refundedUnits = new Map<string, number>();
  for (const refund of taken)
    for (const line of refund.lines as unknown as RefundLine[])
      refundedUnits.set(line.productId, (refundedUnits.get(line.productId) ?? 0) + line.quantity);
  return {
    capturedCents,
    currency,
    refundedCents: taken.reduce((sum, refund) => sum + refund.amountCents, 0),
    refundedUnits,
  };
}

/** Never more money than is left of the payment, nor more units of a line than it sold and were not refunded. */
export function assertWithin(
  left: RefundableView,
  request: Pick<RecordRefundInput, 'amountCents' | 'lines' | 'soldUnits'>,
): void {
  const money = left.capturedCents - left.refundedCents;
  if (request.amountCents > money)
    throw new DomainError(
      'REFUND_EXCEEDS_PAYMENT',
      `${request.amountCents} cents asked; ${money} of the ${left.capturedCents} captured are left to refund`,
      { leftCents: money },
    );
  const sold = new Map(request.soldUnits.map((line) => [line.productId, line.quantity]));
  for (const line of request.lines) {
    const unitsLeft = (sold.get(line.productId) ?? 0) - (left.refundedUnits.get(line.productId) ?? 0);
    if (line.quantity > unitsLeft)
      throw new DomainError(
        'REFUND_EXCEEDS_PAYMENT',
        `${line.quantity} units of ${line.productId} asked; ${Math.max(0, unitsLeft)} are left to refund`,
        { productId: line.productId, unitsLeft: Math.max(0, unitsLeft) },
      );
  }
}

/** Stripe's refusals of a refund that no retry changes; undefined for what may go through on a retry. */
export function refusalOf(error: unknown): { code: string; message: string } | undefined {
  if (error instanceof Stripe.errors.StripeInvalidRequestError || error instanceof Stripe.errors.StripeCardError)
    return { code: error.code ?? REFUND_REFUSED, message: error.message };
  if (error instanceof Stripe.errors.StripeIdempotencyError)
    return { code: 'idempotency_error', message: error.message };
  return undefined;
}
