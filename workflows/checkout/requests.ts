/**
 * What a customer asks of an open checkout: to pay (an update that waits for its charge's outcome)
 * or to cancel (an update that waits for the unwind, or a signal). The handlers only validate,
 * record and wait; the checkout's body reads the request, runs its activities and settles it.
 */
import { ApplicationFailure, CancellationScope, condition, log, setHandler } from '@temporalio/workflow';
import { isTextWithin } from '../../lib/text';
import { isPaymentMethodId, PAYMENT_METHOD_RULE } from '../../lib/payment-methods';
import { ERROR_CODES } from '../../lib/error-codes';
import * as contract from '../contract';
import type { CancelInput, CheckoutFailure, CheckoutState, OrderStatus, PayInput } from '../contract';

/** A payment request as the pay handler recorded it; the body settles it. */
export type PaymentRequest = PayInput & { settled?: { paid: true } | { refused: CheckoutFailure; details: unknown } };

export class CustomerRequests {
  /** The payment the body charges next; cleared when a refusal leaves the order payable again. */
  payment?: PaymentRequest;
  cancel?: CancelInput;
  /** True from placement until the body has decided between paid, cancelled and expired. */
  private open = true;

  constructor(
    private readonly state: Readonly<CheckoutState>,
    private readonly msLeft: () => number,
  ) {
    setHandler(contract.payUpdate, (pay) => this.onPay(pay), { validator: (pay) => this.validatePay(pay) });
    setHandler(contract.cancelUpdate, (request) => this.onCancel(request), {
      validator: (request: CancelInput) => this.validateCancel(request),
    });
    // A signal cannot be refused: a malformed one (sent by hand, with the CLI or the Web UI) is ignored.
    setHandler(contract.cancelSignal, (request) => {
      if (isCancelRequest(request)) this.requestCancel(request);
      else log.warn('Ignored a malformed cancel signal', { orderId: this.state.orderId });
    });
  }

  /** The body has decided the order's way: no payment or cancel is taken from here on. */
  close(): void {
    this.open = false;
  }

  /** A cancel from the update, the signal or the workflow's cancellation; the first one counts. */
  requestCancel(request: CancelInput): void {
    if (this.open) this.cancel ??= request;
  }

  private validatePay(pay: PayInput): void {
    if (!isObject(pay) || pay.customerId !== this.state.customerId)
      throw ApplicationFailure.nonRetryable('Not your order', ERROR_CODES.ORDER_NOT_FOUND);
    // The API's own rule for a payment method; an update sent by hand is held to it too.
    if (!isPaymentMethodId(pay.paymentMethod))
      throw ApplicationFailure.nonRetryable(PAYMENT_METHOD_RULE, ERROR_CODES.VALIDATION_FAILED);
    const why = this.payment
      ? 'A payment for this order is already in progress'
      : this.cancel
        ? 'The order is being cancelled'
        : `The order is ${this.state.status.toLowerCase()}`;
    if (!this.open || this.state.status !== 'AWAITING_PAYMENT' || this.payment || this.cancel || this.msLeft() <= 0) {
      throw ApplicationFailure.nonRetryable(why, ERROR_CODES.ORDER_NOT_PAYABLE);
    }
  }

  /** Records the payment and waits for the body to settle it: PAID, refused (declined: still payable), or unwound. */
  private async onPay(pay: PayInput): Promise<CheckoutState> {
    const payment: PaymentRequest = { ...pay };
    this.payment = payment;
    await settle(() => payment.settled !== undefined || isSettled(this.state.status));
    if (payment.settled && 'refused' in payment.settled) {
      throw ApplicationFailure.nonRetryable(
        payment.settled.refused.message,
        payment.settled.refused.code,
        payment.settled.details ?? {},
      );
    }
    return this.state;
  }

  private validateCancel(request: CancelInput): void {
    if (!isCancelRequest(request))
      throw ApplicationFailure.nonRetryable(
        `A cancel is an object with an optional reason of at most ${MAX_CANCEL_REASON_LENGTH} characters of text`,
        ERROR_CODES.VALIDATION_FAILED,
      );
    const refusal = this.cancelRefusal();
    if (refusal) throw ApplicationFailure.nonRetryable(refusal, ERROR_CODES.ORDER_NOT_CANCELLABLE);
  }

  /** Why a cancel would be refused now, or undefined when it would be taken (the update's validator and what-if ask alike). */
  cancelRefusal(): string | undefined {
    return !this.open || this.cancel ? `The order is ${this.state.status.toLowerCase()}` : undefined;
  }

  /**
   * Why the order would not expire if its deadline came now, or undefined when it would: once the
   * body has decided its way, or while a charge runs (its outcome decides), the deadline changes nothing.
   */
  expiryRefusal(): string | undefined {
    if (!this.open || this.cancel) return `The order is ${this.state.status.toLowerCase()}`;
    if (this.payment) return 'A payment is in progress: the order expires only if it is refused';
    return undefined;
  }

  private async onCancel(request: CancelInput): Promise<CheckoutState> {
    this.requestCancel(request);
    await settle(() => isSettled(this.state.status));
    return this.state;
  }
}

/** The API's bound (api/routes/orders.routes.ts), held by the workflow too for messages sent by hand. */
const MAX_CANCEL_REASON_LENGTH = 500;

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

function isCancelRequest(request: unknown): request is CancelInput {
  if (!isObject(request)) return false;
  const { reason } = request;
  return reason === undefined || reason === null || isTextWithin(reason, 0, MAX_CANCEL_REASON_LENGTH);
}

/** A handler's wait for the body: cancelling the workflow must not cut it short (the caller still gets the outcome). */
export const settle = (done: () => boolean) => CancellationScope.nonCancellable(() => condition(done));
const isSettled = (status: OrderStatus): boolean => contract.isTerminalStatus(status) || status === 'NEEDS_ATTENTION';
