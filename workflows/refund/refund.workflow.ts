/**
 * A refund after the sale, as its story: record it against the payment (the payments service
 * decides, atomically, that it fits in what is left) → refund at Stripe (idempotency key from the
 * refund id; a lost answer is looked up first) → put restocked units back on sale → record the
 * amount and status on the order → tell the customer. A refund Stripe refuses unwinds (its money is
 * freed) and ends FAILED with nothing restocked, and whoever asked is told. Past Stripe's yes the
 * saga only goes forward; a step that fails for good waits for an operator.
 */
import {
  allHandlersFinished,
  CancellationScope,
  condition,
  log,
  setCurrentDetails,
  setHandler,
} from '@temporalio/workflow';
import { ERROR_CODES } from '../../lib/error-codes';
import { Saga } from '../saga';
import { operatorActionSignal, type OperatorActionInput } from '../contract';
import { failureOf } from '../checkout/failures';
import { formatMoney } from '../checkout/summaries';
import { refundCalls } from './gateway';
import * as contract from './refund.contract';
import type { RefundInput, RefundState, RefundStep } from './refund.contract';
import type { RecordedRefund } from '../../activities/refunds.activities';

export async function refundWorkflow(input: RefundInput): Promise<RefundState> {
  return new RefundSaga(input).run();
}

class RefundSaga {
  private readonly state: RefundState;
  private readonly saga: Saga<RefundStep>;
  private readonly calls: ReturnType<typeof refundCalls>;
  /** Stripe's answer (or the refusal) is known: the `refundSettled` update answers from here on. */
  private moneySettled = false;
  /** Webhook events about this refund not yet read. */
  private stripeNews = 0;
  private operatorAction?: OperatorActionInput;

  constructor(private readonly input: RefundInput) {
    const { refundId, orderId, amountCents, currency, requestHash } = input;
    this.state = {
      refundId,
      orderId,
      status: 'PENDING',
      amountCents,
      currency,
      requestHash,
      recorded: false,
      completedSteps: [],
      compensatedSteps: [],
    };
    this.calls = refundCalls(input);
    this.saga = new Saga(this.state, {
      undoing: (step) => setCurrentDetails(`Undoing ${step}`),
      stepFailed: (step, _kind, error) => this.awaitOperator(step, error),
    });
    setHandler(contract.refundStateQuery, () => this.state);
    setHandler(contract.refundSettledUpdate, async () => {
      await condition(() => this.moneySettled);
      return this.state;
    });
    setHandler(contract.refundEventSignal, () => void (this.stripeNews += 1));
    // Only a refund waiting for an operator takes an action.
    setHandler(operatorActionSignal, (action) => void (this.state.needsAttention && (this.operatorAction = action)));
  }

  async run(): Promise<RefundState> {
    return CancellationScope.nonCancellable(async () => {
      setCurrentDetails(`Refunding ${this.money()} of order ${this.input.orderId}`);
      try {
        await this.saga.step('refundRecorded', this.calls.recordRefund, () =>
          this.calls.failRefund(
            this.state.failure?.code ?? ERROR_CODES.REFUND_REFUSED,
            this.state.failure?.message ?? '',
          ),
        );
      } catch (error) {
        // Refused before any money moved (more than is left, the same key with another body): nothing to undo.
        return this.end('FAILED', failureOf(error));
      }
      this.state.recorded = true;
      const refund = await this.saga.step('moneyRefunded', () => this.stripeVerdict());
      if (refund.status === 'FAILED') {
        this.state.failure = refund.failure ?? {
          code: ERROR_CODES.REFUND_REFUSED,
          message: 'Stripe refused the refund',
        };
        await this.saga.unwind();
        log.warn('Stripe refused a refund', { orderId: this.input.orderId, refundId: this.input.refundId });
        await this.calls.tellOperator(this.state.failure).catch(() => undefined);
        return this.end('FAILED', this.state.failure);
      }
      // Stripe gave the money back: from here the saga only goes forward.
      this.saga.commit();
      this.state.status = 'SUCCEEDED';
      this.moneySettled = true;
      if (contract.refundSteps(this.input).includes('unitsRestocked'))
        await this.forward('unitsRestocked', this.calls.restockUnits);
      const order = await this.forward('orderRefunded', this.calls.recordOrderRefund);
      this.state.orderStatus = order.status;
      await this.forward('customerNotified', async () => {
        await this.calls.sendStatusEvent(order.status, order.refundedCents, order.totalCents).catch(() => undefined);
        await this.calls
          .notifyCustomer({
            orderId: this.input.orderId,
            refundId: this.input.refundId,
            amountCents: this.input.amountCents,
            currency: this.input.currency,
            refundedCents: order.refundedCents,
            status: order.status,
          })
          .catch(() => undefined);
      });
      return this.end('SUCCEEDED');
    });
  }

  /**
   * Stripe's verdict on the refund: its answer, or, while it says `pending`, what its webhook later
   * said (the API's update answers PENDING meanwhile).
   */
  private async stripeVerdict(): Promise<RecordedRefund> {
    let refund = await this.calls.refundAtStripe();
    while (refund.status === 'PENDING') {
      this.moneySettled = true;
      setCurrentDetails(`Stripe is processing the refund of ${this.money()}; waiting for its webhook`);
      await condition(() => this.stripeNews > 0);
      this.stripeNews = 0;
      refund = await this.calls.findRefund();
    }
    return refund;
  }

  /** A step past Stripe's yes: it is never undone, and one that fails for good waits for an operator. */
  private async forward<T>(step: RefundStep, run: () => Promise<T>): Promise<T> {
    let result: T | undefined;
    await this.saga.withOperatorFallback(step, 'forward', async () => {
      result = await this.saga.step(step, run);
    });
    return result as T;
  }

  /** Parks the refund until an operator retries the step or resolves it as done by hand. */
  private async awaitOperator(step: string, error: unknown): Promise<'retry' | 'resolve'> {
    const { message } = failureOf(error);
    this.state.failure = { code: ERROR_CODES.FORWARD_STEP_FAILED, message: `${step}: ${message}` };
    this.state.needsAttention = true;
    log.warn('A refund step failed past its retries; it needs an operator', { refundId: this.input.refundId, step });
    setCurrentDetails(
      `NEEDS ATTENTION: ${step} failed: ${message}. Send the signal operatorAction with {"action":"retry"} ` +
        `to run it again, or {"action":"resolve","note":"..."} once it was done by hand.`,
    );
    await condition(() => this.operatorAction !== undefined);
    const { action } = this.operatorAction!;
    this.operatorAction = undefined;
    this.state.needsAttention = false;
    this.state.failure = undefined;
    return action;
  }

  private async end(status: 'SUCCEEDED' | 'FAILED', failure?: { code: string; message: string }) {
    this.state.status = status;
    if (failure) this.state.failure = failure;
    this.moneySettled = true;
    setCurrentDetails(status === 'SUCCEEDED' ? `Refunded ${this.money()}` : `FAILED: ${failure?.message ?? ''}`);
    await condition(allHandlersFinished);
    return this.state;
  }

  private money(): string {
    return formatMoney(this.input.amountCents, this.input.currency);
  }
}
