/**
 * Charging the customer, one attempt at a time and each run to its end, even when a cancel or the
 * order's deadline arrives meanwhile: what one attempt does (the story declares it as the step
 * `paymentCharged` with its undo), and the refusal a failed attempt becomes. A charge Stripe
 * answers `processing` waits for its webhook's verdict within the order's time.
 */
import { ApplicationFailure, condition, log, setCurrentDetails, setHandler } from '@temporalio/workflow';
import { ERROR_CODES } from '../../lib/error-codes';
import type { checkoutCalls } from './gateway';
import * as contract from '../contract';
import type { CheckoutFailure, CheckoutInput, CheckoutState, PayInput, PaymentEventInput } from '../contract';
import * as notices from './notices';
import { detailsOf, failureOf, ProcessingOutlivedOrder } from './failures';
import { formatMoney } from './summaries';

/** Why an attempt did not pay: the failure, the details the customer is shown, and whether the order ran out of time. */
export interface ChargeRefusal {
  failure: CheckoutFailure;
  details?: unknown;
  expired?: boolean;
}

export class Charges {
  /** Stripe's webhook verdict on the order's intent, for a charge that answered `processing`. */
  private webhookVerdict?: { paymentIntentId: string; succeeded: boolean };

  constructor(
    private readonly input: CheckoutInput,
    private readonly state: CheckoutState,
    private readonly calls: ReturnType<typeof checkoutCalls>,
    private readonly msLeft: () => number,
  ) {
    setHandler(contract.paymentEventSignal, (event) => this.onPaymentEvent(event));
  }

  /** One charge attempt, numbered after the declined ones. Stripe answering `processing` settles later: its webhook decides, within the order's time. */
  async attempt(payment: PayInput): Promise<void> {
    const attempt = this.state.declinedAttempts + 1;
    setCurrentDetails(`Charging ${formatMoney(this.state.totalCents, this.input.currency)} (attempt ${attempt})`);
    this.webhookVerdict = undefined;
    const charged = await this.calls.chargePayment(payment.paymentMethod, attempt);
    this.state.paymentIntentId = charged.paymentIntentId;
    if (charged.status === 'SUCCEEDED') return;
    setCurrentDetails(`Stripe is processing the payment; waiting for its webhook until ${this.state.expiresAt}`);
    if (
      !(await condition(
        () => this.webhookVerdict?.paymentIntentId === charged.paymentIntentId,
        Math.max(1, this.msLeft()),
      ))
    )
      throw new ProcessingOutlivedOrder();
    const outcome = this.webhookVerdict!.succeeded ? 'succeeded' : 'failed';
    await this.calls.settleProcessingPayment(attempt, outcome);
    if (outcome === 'failed')
      throw ApplicationFailure.nonRetryable(
        'The payment failed while Stripe processed it',
        ERROR_CODES.PAYMENT_DECLINED,
      );
  }

  /** What a failed attempt tells the customer, and whether the order ran out of time while Stripe processed it. */
  refusalOf(error: unknown): ChargeRefusal {
    const expired = error instanceof ProcessingOutlivedOrder;
    log.info('Payment refused', {
      orderId: this.input.orderId,
      attempt: this.state.declinedAttempts + 1,
      code: failureOf(error).code,
    });
    return {
      failure: expired ? { code: ERROR_CODES.ORDER_NOT_PAYABLE, message: error.message } : failureOf(error),
      details: detailsOf(error),
      expired,
    };
  }

  /** A webhook event: kept in the state (once each, capped), and the verdict a `processing` charge waits for. */
  private onPaymentEvent(event: PaymentEventInput): void {
    // A signal cannot be refused: one that is not an event as the webhook relays it is ignored, never let throw.
    if (!isPaymentEvent(event)) {
      log.warn('Ignored a malformed payment event', { orderId: this.input.orderId });
      return;
    }
    this.webhookVerdict = notices.verdictOf(event) ?? this.webhookVerdict;
    notices.keepPaymentEvent(this.state, event);
  }
}

function isPaymentEvent(event: unknown): event is PaymentEventInput {
  if (typeof event !== 'object' || event === null) return false;
  const { eventId, type, paymentIntentId } = event as Record<string, unknown>;
  return typeof eventId === 'string' && typeof type === 'string' && typeof paymentIntentId === 'string';
}
