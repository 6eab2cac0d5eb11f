/**
 * Charging the customer, one attempt at a time and each run to its end, even when a cancel or the
 * order's deadline arrives meanwhile. The refund-or-cancel undo is registered with the first
 * attempt; a charge Stripe answers `processing` waits for its webhook's verdict within the order's time.
 */
import { ApplicationFailure, condition, log, setCurrentDetails, setHandler } from '@temporalio/workflow';
import { ERROR_CODES } from '../../lib/error-codes';
import { payments } from './gateway';
import * as contract from '../contract';
import type {
  CheckoutFailure,
  CheckoutInput,
  CheckoutState,
  CheckoutStep,
  PayInput,
  PaymentEventInput,
} from '../contract';
import * as notices from './notices';
import { detailsOf, failureOf, ProcessingOutlivedOrder } from './failures';
import type { Saga } from '../saga';
import { formatMoney, stepSummaries as summaries } from './summaries';

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
    private readonly saga: Saga<CheckoutStep>,
    /** The charge's undo: refunds what was taken, or cancels the intent. */
    private readonly refund: () => Promise<unknown>,
    private readonly msLeft: () => number,
  ) {
    setHandler(contract.paymentEventSignal, (event) => this.onPaymentEvent(event));
  }

  /** One charge attempt, run to its end. Undefined when paid. */
  async charge(payment: PayInput): Promise<ChargeRefusal | undefined> {
    const { orderId, currency } = this.input;
    const attempt = this.state.declinedAttempts + 1;
    setCurrentDetails(`Charging ${formatMoney(this.state.totalCents, currency)} (attempt ${attempt})`);
    try {
      await this.saga.step('paymentCharged', () => this.attempt(payment, attempt), this.refund);
      return undefined;
    } catch (error) {
      const expired = error instanceof ProcessingOutlivedOrder;
      log.info('Payment refused', { orderId, attempt, code: failureOf(error).code });
      return {
        failure: expired ? { code: ERROR_CODES.ORDER_NOT_PAYABLE, message: error.message } : failureOf(error),
        details: detailsOf(error),
        expired,
      };
    }
  }

  /** Stripe answering `processing` settles later: its webhook decides, within the order's time. */
  private async attempt(payment: PayInput, attempt: number): Promise<void> {
    const { orderId, currency } = this.input;
    this.webhookVerdict = undefined;
    const charged = await payments.chargePayment.executeWithOptions(
      { summary: summaries.chargePayment(this.state.totalCents, currency, attempt) },
      [{ orderId, amountCents: this.state.totalCents, currency, paymentMethod: payment.paymentMethod, attempt }],
    );
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
    await payments.settleProcessingPayment({ orderId, attempt, outcome });
    if (outcome === 'failed')
      throw ApplicationFailure.nonRetryable(
        'The payment failed while Stripe processed it',
        ERROR_CODES.PAYMENT_DECLINED,
      );
  }

  /** A webhook event: kept in the state (once each, capped), and the verdict a `processing` charge waits for. */
  private onPaymentEvent(event: PaymentEventInput): void {
    this.webhookVerdict = notices.verdictOf(event) ?? this.webhookVerdict;
    notices.keepPaymentEvent(this.state, event);
  }
}
