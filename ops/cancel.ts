/**
 * An operator's cancel: the customer's own path (the checkout's cancel update, through the same
 * client the API uses), so the same validator decides and the same unwind runs. The reason is
 * recorded as the order's status-history reason (and the workflow's current details), marked as
 * an operator's; the update itself carries the operator's identity in the Temporal history.
 */
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { DomainError } from '../lib/errors';
import { CheckoutClient } from '../temporal/checkout-client';
import { ORDER_STATUS_KEY, orderWorkflowId, type CheckoutState } from '../workflows/contract';
import { OperationError } from './orders';

/** Room left for the operator's words under the workflow's 500-character bound on a cancel's reason. */
export const MAX_OPERATOR_REASON_LENGTH = 400;

/** How the reason reads in the order's history: whose decision it was, then why. */
export const operatorCancelReason = (reason: string) => `Cancelled by an operator: ${reason}`;

/**
 * Cancels an order that is still waiting for payment, and answers its state once it is unwound.
 * Refused, with the reason, for an order that is unknown, has ended, is paid, or whose payment
 * in flight wins the race.
 */
export async function cancelOrder(client: Client, orderId: string, reason: string): Promise<CheckoutState> {
  const why = reason.trim();
  if (!why) throw new OperationError('cancel needs --reason TEXT: it is recorded in the order history');
  if (why.length > MAX_OPERATOR_REASON_LENGTH)
    throw new OperationError(`--reason is at most ${MAX_OPERATOR_REASON_LENGTH} characters, got ${why.length}`);

  let description;
  try {
    description = await client.workflow.getHandle(orderWorkflowId(orderId)).describe();
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) throw new OperationError(`No order ${orderId} in this namespace`);
    throw error;
  }
  if (description.status.name !== 'RUNNING') {
    const status = description.typedSearchAttributes.get(ORDER_STATUS_KEY) ?? description.status.name;
    throw new OperationError(`Order ${orderId} has ended (${status}): nothing to cancel`);
  }

  let state: CheckoutState;
  try {
    // The unwind runs before the update answers: a slow service gets a minute, as `retry --wait` does.
    state = await new CheckoutClient(client, { deadlineMs: 60_000 }).cancel(orderId, operatorCancelReason(why));
  } catch (error) {
    if (error instanceof DomainError) throw new OperationError(`Order ${orderId} was not cancelled: ${error.message}`);
    throw error;
  }
  if (state.status !== 'CANCELLED')
    throw new OperationError(`Order ${orderId} was not cancelled: it is ${state.status.toLowerCase()}`);
  return state;
}
