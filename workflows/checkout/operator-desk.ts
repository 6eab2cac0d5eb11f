/**
 * The operator's part in a checkout: a step that keeps failing past its retries parks the order in
 * NEEDS_ATTENTION, and the order waits for an operator's update (or, from the Web UI, signal) to
 * retry the step or to resolve it as done by hand (docs/operating-orders.md).
 */
import { ApplicationFailure, condition, log, setCurrentDetails, setHandler } from '@temporalio/workflow';
import { ERROR_CODES } from '../../lib/error-codes';
import { isTextWithin } from '../../lib/text';
import * as contract from '../contract';
import type { CheckoutState, OperatorActionInput, OperatorDecisionInput, OperatorDecisionResult } from '../contract';
import { failureOf } from './failures';
import type { OperatorDecision, StepKind } from '../saga';
import { needsAttentionDetails } from './summaries';

/** The bound on an operator's note and failure filter, as on a cancel's reason. */
const MAX_OPERATOR_TEXT_LENGTH = 500;

export class OperatorDesk {
  private action?: OperatorActionInput;
  /** The step the order is parked on, while it waits for an operator. */
  private parkedStep?: string;

  constructor(
    private readonly state: CheckoutState,
    /** Records NEEDS_ATTENTION with the state's failure (in the orders database when it can). */
    private readonly markNeedsAttention: () => Promise<void>,
  ) {
    // Only a parked order takes an action: one sent before would retry or resolve a step not yet failed.
    setHandler(
      contract.operatorActionSignal,
      (action) => void (this.state.status === 'NEEDS_ATTENTION' && (this.action = action)),
    );
    for (const [update, action] of [
      [contract.retryUpdate, 'retry'],
      [contract.resolveUpdate, 'resolve'],
    ] as const) {
      setHandler(update, (input) => this.decide(action, input), {
        validator: (input) => this.validateDecision(input),
      });
    }
  }

  /** Refuses, before anything is recorded, a decision the parked order could not take as asked. */
  private validateDecision(input: OperatorDecisionInput): void {
    const isText = (value: unknown) => value === undefined || isTextWithin(value, 1, MAX_OPERATOR_TEXT_LENGTH);
    if (typeof input !== 'object' || input === null || !isText(input.note) || !isText(input.ifFailureContains))
      throw ApplicationFailure.nonRetryable(
        `An operator's decision is an object with an optional note and ifFailureContains of 1 to ${MAX_OPERATOR_TEXT_LENGTH} characters of text`,
        ERROR_CODES.VALIDATION_FAILED,
      );
    if (this.parkedStep === undefined || this.action !== undefined)
      throw ApplicationFailure.nonRetryable(
        this.parkedStep === undefined
          ? `The order is ${this.state.status}, not waiting for an operator`
          : 'The order has already taken an operator decision',
        ERROR_CODES.ORDER_NOT_PARKED,
      );
    const failure = `${this.state.failure?.code}: ${this.state.failure?.message}`;
    if (input.ifFailureContains && !failure.toLowerCase().includes(input.ifFailureContains.toLowerCase()))
      throw ApplicationFailure.nonRetryable(
        `The order's failure is "${failure}", which does not contain "${input.ifFailureContains}"`,
        ERROR_CODES.ORDER_NOT_PARKED,
      );
  }

  /** Records the decision for park(), which is waiting for it: taken as soon as it is recorded. */
  private decide(action: OperatorActionInput['action'], input: OperatorDecisionInput): OperatorDecisionResult {
    this.action = { action, ...(input.note ? { note: input.note } : {}) };
    return { orderId: this.state.orderId, action, step: this.parkedStep!, failure: this.state.failure! };
  }

  /**
   * Parks the order for `step`'s failure and answers with the operator's decision. An undo that
   * failed is a COMPENSATION_FAILED; a step past the commit point (the order is paid) is a
   * FORWARD_STEP_FAILED, which no operator answers by undoing anything.
   */
  async park(step: string, kind: StepKind, error: unknown): Promise<OperatorDecision> {
    const { orderId } = this.state;
    const { message } = failureOf(error);
    const code = kind === 'undo' ? ERROR_CODES.COMPENSATION_FAILED : ERROR_CODES.FORWARD_STEP_FAILED;
    this.state.failure = { code, message: `${step}: ${message}` };
    log.warn('A step failed past its retries; the order needs an operator', { orderId, step, kind, error: message });
    setCurrentDetails(needsAttentionDetails(orderId, step, kind, message));
    if (this.state.status !== 'NEEDS_ATTENTION') await this.markNeedsAttention();
    this.parkedStep = step;
    await condition(() => this.action !== undefined);
    const { action, note } = this.action!;
    this.action = undefined;
    this.parkedStep = undefined;
    log.info('Operator action', { orderId, step, action, note });
    setCurrentDetails(action === 'resolve' ? `Resolved by an operator: ${step}` : `Retrying ${step} (operator)`);
    return action;
  }
}
