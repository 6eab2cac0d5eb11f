/**
 * The operator's part in a checkout: a step that keeps failing past its retries parks the order in
 * NEEDS_ATTENTION, and the order waits for an operator's signal to retry the step or to resolve it
 * as done by hand (docs/operating-orders.md).
 */
import { condition, log, setCurrentDetails, setHandler } from '@temporalio/workflow';
import { ERROR_CODES } from '../../lib/error-codes';
import * as contract from '../contract';
import type { CheckoutState, OperatorActionInput } from '../contract';
import { failureOf } from './failures';
import type { OperatorDecision, StepKind } from '../saga';
import { needsAttentionDetails } from './summaries';

export class OperatorDesk {
  private action?: OperatorActionInput;

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
    await condition(() => this.action !== undefined);
    const { action, note } = this.action!;
    this.action = undefined;
    log.info('Operator action', { orderId, step, action, note });
    setCurrentDetails(action === 'resolve' ? `Resolved by an operator: ${step}` : `Retrying ${step} (operator)`);
    return action;
  }
}
