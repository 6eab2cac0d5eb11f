/**
 * An operator's retry or resolve of orders parked in NEEDS_ATTENTION, one order or a batch after an
 * outage: each is the checkout's `retry` / `resolve` update, whose validator accepts or refuses it
 * atomically (the order must be parked, and its failure still the one the batch selected), so the
 * state cannot change between a check here and the order taking the decision.
 */
import {
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  WorkflowUpdateRPCTimeoutOrCancelledError,
  type Client,
} from '@temporalio/client';
import {
  checkoutStateQuery,
  ORDER_STATUS_KEY,
  orderWorkflowId,
  resolveUpdate,
  retryUpdate,
  type CheckoutFailure,
  type OperatorActionInput,
  type OperatorDecisionInput,
} from '../workflows/contract';
import { listOrders, OperationError } from './orders';

export type OperatorAction = OperatorActionInput['action'];

/** How long one order may take to accept or refuse (a worker must be polling the checkout queue). */
const DECISION_DEADLINE_MS = 10_000;

export interface DecisionOutcome {
  orderId: string;
  accepted: boolean;
  /** The step the order retries or resolves, when accepted. */
  step?: string;
  failure?: CheckoutFailure;
  /** Why it was refused. */
  refusal?: string;
}

/** Sends one order the decision; refused (with the order's reason) rather than thrown for anything the order or Temporal said. */
export async function sendDecision(
  client: Client,
  orderId: string,
  action: OperatorAction,
  input: OperatorDecisionInput,
): Promise<DecisionOutcome> {
  const handle = client.workflow.getHandle(orderWorkflowId(orderId));
  try {
    const taken = await client.withDeadline(Date.now() + DECISION_DEADLINE_MS, () =>
      handle.executeUpdate(action === 'retry' ? retryUpdate : resolveUpdate, { args: [input] }),
    );
    return { orderId, accepted: true, step: taken.step, failure: taken.failure };
  } catch (error) {
    if (error instanceof WorkflowUpdateFailedError)
      return { orderId, accepted: false, refusal: error.cause?.message ?? error.message };
    if (error instanceof WorkflowNotFoundError) return { orderId, accepted: false, refusal: await endedOrMissing() };
    if (error instanceof WorkflowUpdateRPCTimeoutOrCancelledError)
      return {
        orderId,
        accepted: false,
        refusal: `Order ${orderId} did not answer within ${DECISION_DEADLINE_MS / 1000} s (is a worker polling the checkout queue?)`,
      };
    throw error;
  }

  /** The server answers NOT_FOUND for a closed workflow too: say which it is. */
  async function endedOrMissing(): Promise<string> {
    try {
      const status = (await handle.describe()).typedSearchAttributes.get(ORDER_STATUS_KEY) ?? 'closed';
      return `Order ${orderId} is ${status}, not NEEDS_ATTENTION: nothing to ${action}`;
    } catch {
      return `No order ${orderId} in this namespace`;
    }
  }
}

export interface ParkedOrder {
  orderId: string;
  /** Its failure, from the state query; undefined when no worker answered. */
  failure?: CheckoutFailure;
  unreadable?: string;
}

/** `CODE: message`, the text a batch's --failure is matched against (the workflow's validator matches the same). */
export const failureText = (failure: CheckoutFailure): string => `${failure.code}: ${failure.message}`;

/** Orders in NEEDS_ATTENTION (visibility), with their failure, those whose failure contains `failureContains`. */
export async function parkedOrders(
  client: Client,
  options: { failureContains?: string; limit: number },
): Promise<ParkedOrder[]> {
  const listed = await listOrders(client, { status: 'NEEDS_ATTENTION' }, options.limit);
  const parked = await Promise.all(
    listed.map(async ({ orderId }): Promise<ParkedOrder> => {
      try {
        const state = await client.withDeadline(Date.now() + DECISION_DEADLINE_MS, () =>
          client.workflow.getHandle(orderWorkflowId(orderId)).query(checkoutStateQuery),
        );
        return { orderId, ...(state.failure ? { failure: state.failure } : {}) };
      } catch (error) {
        return { orderId, unreadable: (error as Error).message };
      }
    }),
  );
  const wanted = options.failureContains?.toLowerCase();
  // An unreadable order is kept: its update's validator decides, and the operator sees it.
  return parked.filter(
    (order) => !wanted || !order.failure || failureText(order.failure).toLowerCase().includes(wanted),
  );
}

export interface BatchOptions {
  action: OperatorAction;
  failureContains?: string;
  note?: string;
  dryRun: boolean;
  limit: number;
}

/** Retries or resolves every parked order the batch selects, each accepted or refused on its own; the exit code. */
export async function decideBatch(client: Client, options: BatchOptions, out: (line: string) => void): Promise<number> {
  const { action, failureContains } = options;
  const selection = `NEEDS_ATTENTION${failureContains ? ` with a failure containing "${failureContains}"` : ''}`;
  const orders = await parkedOrders(client, { limit: options.limit, ...(failureContains ? { failureContains } : {}) });
  if (orders.length === 0) {
    out(`no order is ${selection}`);
    return 0;
  }
  const describe = (order: ParkedOrder) =>
    order.failure ? failureText(order.failure) : `state unreadable: ${order.unreadable ?? 'no failure recorded'}`;
  if (options.dryRun) {
    out(`dry run: would send ${action} to ${orders.length} order(s) ${selection}:`);
    for (const order of orders) out(`  ${order.orderId}  ${describe(order)}`);
    out('nothing was sent');
    return 0;
  }
  const input: OperatorDecisionInput = {
    ...(options.note ? { note: options.note } : {}),
    ...(failureContains ? { ifFailureContains: failureContains } : {}),
  };
  // One after another: a batch after an outage should not become a second burst on the services it retries.
  let refused = 0;
  for (const order of orders) {
    const outcome = await sendDecision(client, order.orderId, action, input);
    if (outcome.accepted)
      out(`  ✓ ${order.orderId} ${action} accepted: ${outcome.step} (${failureText(outcome.failure!)})`);
    else {
      refused += 1;
      out(`  ✗ ${order.orderId} ${action} refused: ${outcome.refusal}`);
    }
  }
  out(`${orders.length - refused} accepted, ${refused} refused`);
  return refused === 0 ? 0 : 1;
}

/** The batch's selection flags, checked: --all for every parked order, --failure TEXT for those whose failure contains it. */
export function batchSelection(flags: { all: boolean; failure?: string; orderId?: string }): {
  batch: boolean;
  failureContains?: string;
} {
  const batch = flags.all || flags.failure !== undefined;
  if (batch && flags.orderId)
    throw new OperationError('give an order id, or --all / --failure TEXT for a batch, not both');
  if (flags.failure !== undefined && flags.failure.trim() === '')
    throw new OperationError('--failure needs the text of the failures to select');
  return { batch, ...(flags.failure !== undefined ? { failureContains: flags.failure } : {}) };
}
