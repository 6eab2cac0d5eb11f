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
import type { OperatorDecision } from '../saga';
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

  /** Parks the order for `step`'s failure and answers with the operator's decision. */
  async park(step: string, error: unknown): Promise<OperatorDecision> {
    const { orderId } = this.state;
    const { message } = failureOf(error);
    this.state.failure = { code: ERROR_CODES.COMPENSATION_FAILED, message: `${step}: ${message}` };
    log.warn('A step failed past its retries; the order needs an operator', { orderId, step, error: message });
    setCurrentDetails(needsAttentionDetails(orderId, step, message));
    if (this.state.status !== 'NEEDS_ATTENTION') await this.markNeedsAttention();
    await condition(() => this.action !== undefined);
    const { action, note } = this.action!;
    this.action = undefined;
    log.info('Operator action', { orderId, step, action, note });
    setCurrentDetails(action === 'resolve' ? `Resolved by an operator: ${step}` : `Retrying ${step} (operator)`);
    return action;
  }
}
