/**
 * The checkout saga, as its story: place the order (quota, order, stock) → await payment, cancel or
 * expiry → fulfil (sell the stock, mark paid, clear the cart) → finish. Every step is declared here
 * with its undo (saga.ts); every activity call goes through the gateway (gateway.ts); the customer's
 * requests only validate, record and wait (requests.ts); one charge attempt is charges.ts; and a step
 * that keeps failing waits for an operator (operator-desk.ts).
 */
import {
  allHandlersFinished,
  CancellationScope,
  condition,
  log,
  patched,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import { ERROR_CODES } from '../../lib/error-codes';
import { isSold } from '../../lib/orders';
import { checkoutCalls } from './gateway';
import { Charges, type ChargeRefusal } from './charges';
import { CustomerRequests, settle } from './requests';
import * as contract from '../contract';
import type { CheckoutFailure, CheckoutInput, CheckoutState, CheckoutStep, OrderStatus, PayInput } from '../contract';
import type { RecordedOrder } from '../../activities/orders.activities';
import { OperatorDesk } from './operator-desk';
import { Saga } from '../saga';
import * as notices from './notices';
import { failureOf } from './failures';
import { formatMoney, stepSummaries as summaries } from './summaries';

/**
 * Changes made while checkouts were running (docs/changing-workflows.md): `notifyDeclinedPayment` is
 * kept as the worked example; `undoEarlierCharges` gives back a charge an earlier run made.
 */
export const PATCHES = {
  notifyDeclinedPayment: 'notify-declined-payment',
  undoEarlierCharges: 'undo-earlier-charges',
} as const;

/** Failures that reject the order rather than fail it: the customer asked for what cannot be had. */
const REJECTING_CODES: readonly string[] = [
  ERROR_CODES.OUT_OF_STOCK,
  ERROR_CODES.HOLD_LIMIT_REACHED,
  ERROR_CODES.QUOTA_EXCEEDED,
  ERROR_CODES.UNKNOWN_PRODUCT,
];
/** Refusals after which the order stays payable: another card or method may go through. */
const PAYABLE_AGAIN_CODES: readonly string[] = [ERROR_CODES.PAYMENT_DECLINED, ERROR_CODES.PAYMENT_METHOD_UNUSABLE];

/**
 * What a run does with an order an earlier run recorded: leave it as it ended, or go on from where
 * the services say it is (`goOn` skips the wait for payment; neither waits for it as usual).
 */
interface Adoption {
  ended?: OrderStatus;
  goOn?: 'paid' | Unwind;
}

/** Why the saga unwinds, and the status the order ends in once it has. */
type Unwind = {
  status: Extract<OrderStatus, 'REJECTED' | 'EXPIRED' | 'CANCELLED' | 'FAILED'>;
  reason: string;
  failure?: CheckoutFailure;
};

export async function checkoutWorkflow(input: CheckoutInput): Promise<CheckoutState> {
  return new Checkout(input).run();
}

class Checkout {
  private readonly state: CheckoutState;
  private readonly saga: Saga<CheckoutStep>;
  private readonly calls: ReturnType<typeof checkoutCalls>;
  private readonly requests: CustomerRequests;
  private readonly charges: Charges;
  private readonly operator: OperatorDesk;
  /** True once the order could have been charged (it awaited payment, in this run or an earlier one). */
  private mayHoldCharge = false;
  /** Status events for the dashboard, persisted one after another while the saga goes on (never awaited by it). */
  private statusEventsSent: Promise<void> = Promise.resolve();

  constructor(private readonly input: CheckoutInput) {
    const { orderId, customerId, currency } = input;
    const totalCents = contract.orderTotalCents(input.lines);
    this.state = {
      orderId,
      customerId,
      status: 'PENDING',
      totalCents,
      currency,
      completedSteps: [],
      compensatedSteps: [],
      declinedAttempts: 0,
    };
    this.calls = checkoutCalls(input, totalCents);
    this.saga = new Saga(this.state, {
      undoing: (step) => setCurrentDetails(`Undoing ${step}`),
      stepFailed: (step, kind, error) => this.operator.park(step, kind, error),
    });
    setHandler(contract.checkoutStateQuery, () => this.state);
    setHandler(contract.placedUpdate, () => settle(() => this.state.status !== 'PENDING').then(() => this.state));
    const msLeft = () => this.msLeft();
    this.requests = new CustomerRequests(this.state, msLeft);
    this.charges = new Charges(input, this.state, this.calls, msLeft);
    // With the orders service down too, the workflow's own state and search attribute still say so.
    const markNeedsAttention = () =>
      this.setStatus('NEEDS_ATTENTION', {
        reason: this.state.failure!.message,
        failureCode: this.state.failure!.code,
      }).then(
        () => undefined,
        () => this.markStatus('NEEDS_ATTENTION'),
      );
    this.operator = new OperatorDesk(this.state, markNeedsAttention);
    setHandler(contract.whatIfQuery, (action) => this.whatIf(action));
  }

  /** What a cancel or the deadline would do now, decided by the requests and the saga that would do it; runs nothing. */
  private whatIf(action: contract.WhatIfAction): contract.WhatIfAnswer {
    if (!contract.WHAT_IF_ACTIONS.includes(action))
      throw new Error(`what-if asks about ${contract.WHAT_IF_ACTIONS.join(' or ')}, not ${String(action)}`);
    const refused = action === 'cancel' ? this.requests.cancelRefusal() : this.requests.expiryRefusal();
    if (refused) return { action, refused, undos: [] };
    // In unwind()'s order: a charge an earlier run may have made, then the saga's own undos.
    const undos = [...(this.undoesEarlierCharge() ? [['paymentCharged']] : []), ...this.saga.plannedUnwind()];
    return {
      action,
      endsAs: action === 'cancel' ? 'CANCELLED' : 'EXPIRED',
      undos,
      earlierCharge: this.undoesEarlierCharge(),
    };
  }

  async run(): Promise<CheckoutState> {
    // Cancelling the workflow (the Web UI, `temporal workflow cancel`) is one more way to ask for a
    // cancel: the body takes it when it can, never in the middle of a charge or past the sale.
    CancellationScope.current().cancelRequested.catch(() =>
      this.requests.requestCancel({ reason: 'The workflow was cancelled' }),
    );
    upsertSearchAttributes([
      { key: contract.ORDER_STATUS_KEY, value: 'PENDING' },
      { key: contract.CUSTOMER_ID_KEY, value: this.input.customerId },
    ]);
    return CancellationScope.nonCancellable(async () => {
      try {
        const earlier = await this.place();
        if (earlier?.ended) return await this.leaveEndedOrder(earlier.ended);
        const outcome = earlier?.goOn ?? (await this.awaitPayment());
        if (outcome === 'paid') await this.fulfil();
        else await this.unwind(outcome);
      } catch (error) {
        const failure = failureOf(error);
        await this.unwind({
          status: REJECTING_CODES.includes(failure.code) ? 'REJECTED' : 'FAILED',
          reason: failure.message,
          failure,
        });
      }
      return this.finish();
    });
  }

  /**
   * Counts the order against the quota, records it and reserves its stock, the three side by side:
   * none needs another's result, and the customer waits for the slowest one rather than for their
   * sum. Each is idempotent by the order's id, so a run that finds the order already recorded (an
   * operator's reset, a recovery run) gets the same unit and reservation back and adopts the order.
   */
  private async place(): Promise<Adoption | undefined> {
    setCurrentDetails(`Placing the order: ${formatMoney(this.state.totalCents, this.input.currency)}`);
    const [quotaChecked, orderCreated, stockReserved] = await this.saga.together([
      { name: 'quotaChecked', run: this.calls.reserveQuota, undo: this.calls.releaseQuota },
      // Recorded even when the quota or the stock refuses the order, so the customer can see why; its undo is the final status unwind() records.
      { name: 'orderCreated', run: this.calls.createOrder },
      // Reserved while the quota is still being checked: an order the quota refuses gives its units back in its unwind, the stock first.
      { name: 'stockReserved', run: this.calls.reserveStock, undo: this.calls.releaseStock },
    ]);
    if (orderCreated.status === 'rejected') throw orderCreated.reason;
    if (orderCreated.value.status !== 'PENDING') return this.adopt(orderCreated.value);
    // The quota speaks first: an order over the limit is refused for that, whatever the stock says.
    if (quotaChecked.status === 'rejected') throw quotaChecked.reason;
    if (stockReserved.status === 'rejected') throw stockReserved.reason;
    this.state.expiresAt = new Date(Date.now() + this.input.ttlSeconds * 1000).toISOString();
    try {
      const waiting = await this.setStatus('AWAITING_PAYMENT', { expiresAt: this.state.expiresAt });
      this.mayHoldCharge = true;
      // An earlier run set the order's deadline first (a reset between its placement and this write): that one holds.
      if (waiting.expiresAt) this.state.expiresAt = waiting.expiresAt;
    } catch (error) {
      // The order went further in an earlier run (a reset of a paid or ended order to its placement): adopt it as it is.
      if (failureOf(error).code !== ERROR_CODES.INVALID_TRANSITION) throw error;
      return this.adopt(await this.calls.createOrder());
    }
    return undefined;
  }

  /**
   * Takes over an order an earlier run of this workflow recorded, from what the services say of it
   * rather than from the first row read: a waiting order waits on until its own expiresAt, payable
   * once (a charge that went through is not asked for again); a paid one only goes forward; one that
   * parked before it was paid unwinds (every undo is idempotent); an ended one is left as it is.
   */
  private async adopt(order: RecordedOrder): Promise<Adoption> {
    const { status } = order;
    if (contract.isTerminalStatus(status)) return { ended: status };
    const payment = order.paidBefore ? undefined : await this.calls.findPayment();
    const waiting =
      status === 'AWAITING_PAYMENT' &&
      order.expiresAt !== null &&
      (payment?.status === 'NONE' || payment?.status === 'PENDING');
    this.state.declinedAttempts = payment?.declinedAttempts ?? 0;
    if (waiting) this.state.expiresAt = order.expiresAt!;
    if (waiting || payment?.status === 'PENDING') this.mayHoldCharge = true;
    // Marked last: the `placed` update answers as soon as the status is no longer PENDING.
    this.markStatus(status);
    if (!payment || payment.status === 'SUCCEEDED') return { goOn: 'paid' };
    if (waiting) {
      setCurrentDetails(`Adopted order ${order.orderId}: awaiting payment since an earlier run`);
      return {};
    }
    // Parked by an earlier run, or its payment already given back: finish the unwind it began.
    const failure = order.failureCode
      ? { code: order.failureCode, message: order.failureReason ?? order.failureCode }
      : { code: ERROR_CODES.ORDER_RECOVERED, message: `An earlier run left the order ${status}` };
    return { goOn: { status: 'FAILED', reason: failure.message, failure } };
  }

  /**
   * Waits for a payment, a cancel or the order's expiresAt, whichever comes first, and runs each
   * charge attempt to its end: a cancel or the deadline arriving meanwhile waits for its outcome.
   */
  private async awaitPayment(): Promise<'paid' | Unwind> {
    for (;;) {
      setCurrentDetails(
        `Awaiting payment of ${formatMoney(this.state.totalCents, this.input.currency)} until ${this.state.expiresAt} (${this.state.declinedAttempts} declined)`,
      );
      const { requests } = this;
      await condition(
        () => requests.payment !== undefined || requests.cancel !== undefined,
        Math.max(1, this.msLeft()),
        { summary: summaries.expiryTimer(this.input.ttlSeconds) },
      );
      const payment = requests.payment;
      if (requests.cancel || !payment) {
        requests.close();
        return requests.cancel
          ? { status: 'CANCELLED', reason: requests.cancel.reason ?? 'Cancelled by the customer' }
          : { status: 'EXPIRED', reason: `Not paid within ${this.input.ttlSeconds} s` };
      }
      const refusal = await this.charge(payment);
      if (requests.cancel) continue; // Cancelled during the charge: its undo refunds whatever it took.
      if (!refusal) {
        requests.close();
        return 'paid';
      }
      const payableAgain = PAYABLE_AGAIN_CODES.includes(refusal.failure.code);
      if (payableAgain) this.state.declinedAttempts += 1;
      const exhausted = payableAgain && this.state.declinedAttempts >= contract.MAX_DECLINED_ATTEMPTS;
      const failure = exhausted
        ? {
            code: ERROR_CODES.PAYMENT_ATTEMPTS_EXHAUSTED,
            message: `${this.state.declinedAttempts} payment attempts were declined`,
          }
        : refusal.failure;
      payment.settled = { refused: failure, details: refusal.details };
      if (!payableAgain || exhausted) {
        requests.close();
        return { status: refusal.expired ? 'EXPIRED' : 'FAILED', reason: failure.message, failure };
      }
      requests.payment = undefined; // Payable again, until the order expires.
      if (patched(PATCHES.notifyDeclinedPayment))
        await notices.notifyDeclined(this.state, failure.message, refusal.details);
    }
  }

  /**
   * One charge attempt, run to its end, as the step `paymentCharged` with its undo: refund what was
   * taken or cancel the intent (a second attempt keeps the undo the first registered). Undefined when paid.
   */
  private async charge(payment: PayInput): Promise<ChargeRefusal | undefined> {
    try {
      await this.saga.step('paymentCharged', () => this.charges.attempt(payment), this.refundCharge);
      return undefined;
    } catch (error) {
      return this.charges.refusalOf(error);
    }
  }

  /** The undo of a charge: refunds what was taken, or cancels an intent that took nothing. */
  private readonly refundCharge = () => this.calls.refundPayment(this.state.failure?.code);

  /** Sells the reserved stock (the commit point), then goes forward only: the PAID write, the cart, COMPLETED. */
  private async fulfil(): Promise<void> {
    setCurrentDetails('Paid: selling the stock and clearing the cart');
    await this.saga.step('stockCommitted', this.calls.commitStock);
    this.saga.commit();
    await this.forward('orderPaid', () => this.setStatus('PAID', {}, 'forward-only'));
    if (this.requests.payment) this.requests.payment.settled = { paid: true };
    await this.forward('cartCleared', this.calls.clearCart);
    await this.forward('customerNotified', () => this.setStatus('COMPLETED', {}, 'forward-only'));
    setCurrentDetails('COMPLETED');
  }

  /** Whether an unwind would first give back a charge this run did not make (see unwind()). */
  private undoesEarlierCharge(): boolean {
    return this.mayHoldCharge && !this.saga.hasUndo('paymentCharged');
  }

  /** Runs the undos newest first, then records how the order ended. */
  private async unwind(why: Unwind): Promise<void> {
    this.requests.close();
    this.state.failure ??= why.failure;
    // A charge this run did not make: one whose answer was lost with an earlier run that an operator
    // reset or terminated. The payments service asks Stripe; without a payment nothing is done.
    if (this.undoesEarlierCharge() && patched(PATCHES.undoEarlierCharges))
      await this.saga.undoEarlier('paymentCharged', async () => (await this.refundCharge()).action !== 'none');
    await this.saga.unwind();
    await this.saga.withOperatorFallback('recordOutcome', 'undo', () =>
      this.setStatus(why.status, { reason: why.reason, failureCode: this.state.failure?.code }),
    );
    setCurrentDetails(`${why.status}: ${why.reason}`);
  }

  /** Answers a second run with the order as its first run left it, and undoes nothing of it. */
  private async leaveEndedOrder(status: OrderStatus): Promise<CheckoutState> {
    // An order that ended unpaid gave its quota unit and its stock back (or never had them): give back
    // what this run may have taken for it (each a no-op otherwise; a reservation found existing was
    // left as it was). A completed or parked order keeps its unit and its stock.
    if (contract.isTerminalStatus(status) && !isSold(status))
      await Promise.all([this.calls.releaseStock(), this.calls.releaseQuota()]);
    setCurrentDetails(`The order had already ended (${status}) in an earlier run: left as it was`);
    this.markStatus(status);
    return this.finish();
  }

  /** Lets pay and cancel callers receive their answers, and the status events get through, before the workflow completes. */
  private async finish(): Promise<CheckoutState> {
    await this.statusEventsSent;
    await condition(allHandlersFinished);
    return this.state;
  }

  /** A step past the commit point: it is never undone, and one that fails for good waits for an operator. */
  private forward(step: CheckoutStep, run: () => Promise<unknown>): Promise<void> {
    return this.saga.withOperatorFallback(step, 'forward', () => this.saga.step(step, run));
  }

  private async setStatus(
    status: OrderStatus,
    extra: { reason?: string; failureCode?: string; expiresAt?: string } = {},
    mode?: 'forward-only',
  ): Promise<RecordedOrder> {
    const recorded = await this.calls.setStatus(status, extra, mode);
    this.markStatus(status);
    log.info('Order status changed', {
      orderId: this.input.orderId,
      status,
      ...(extra.reason ? { reason: extra.reason } : {}),
    });
    const event = { ...this.state };
    this.statusEventsSent = this.statusEventsSent.then(() => notices.persistStatusEvent(event));
    return recorded;
  }

  /** The status in the workflow's state and its search attribute (not in the orders database). */
  private markStatus(status: OrderStatus): void {
    this.state.status = status;
    upsertSearchAttributes([{ key: contract.ORDER_STATUS_KEY, value: status }]);
  }

  private msLeft(): number {
    return Date.parse(this.state.expiresAt!) - Date.now();
  }
}
