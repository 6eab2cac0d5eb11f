/**
 * A rollback's dry run (`npm run ops -- what-if <orderId> cancel|expire`): the checkout answers its
 * whatIf query from the same requests and saga that would act (Saga.plannedUnwind), and this puts
 * each undo in an operator's words: the activity it calls, the key that makes it idempotent, and
 * what it gives back. Nothing runs.
 */
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { orderQuotaKey } from '../activities/usage-recording';
import { idempotencyKeys } from '../services/payments/payments.service';
import { formatMoney } from '../workflows/checkout/summaries';
import {
  checkoutStateQuery,
  orderWorkflowId,
  WHAT_IF_ACTIONS,
  whatIfQuery,
  type CheckoutState,
  type OrderStatus,
  type WhatIfAction,
} from '../workflows/contract';
import { OperationError } from './orders';

export interface PlannedCompensation {
  /** The saga step it undoes. */
  step: string;
  /** The activity it calls, as the history will show it. */
  activity: string;
  /** What makes a second call a no-op. */
  idempotencyKey: string;
  /** What it gives back, with its amount or units. */
  givesBack: string;
  /** Undos in the same group run side by side. */
  group: number;
}

export interface WhatIfPlan {
  orderId: string;
  action: WhatIfAction;
  status: OrderStatus;
  refused?: string;
  endsAs?: OrderStatus;
  compensations: PlannedCompensation[];
  /** The last write, once the undos are done: the order's final status in the orders database. */
  then?: { activity: 'setOrderStatus'; status: OrderStatus };
}

const QUERY_DEADLINE_MS = 5_000;

export function parseWhatIfAction(raw: string | undefined): WhatIfAction {
  if (!raw || !(WHAT_IF_ACTIONS as readonly string[]).includes(raw))
    throw new OperationError(`what-if needs an order id and one of ${[...WHAT_IF_ACTIONS, 'refund'].join(', ')}`);
  return raw as WhatIfAction;
}

export async function whatIf(client: Client, orderId: string, action: WhatIfAction): Promise<WhatIfPlan> {
  const handle = client.workflow.getHandle(orderWorkflowId(orderId));
  let answer;
  let state: CheckoutState;
  let units: number | undefined;
  try {
    const description = await handle.describe();
    if (description.status.name !== 'RUNNING')
      throw new OperationError(`Order ${orderId}'s checkout has ended (${description.status.name}): nothing would run`);
    units = (description.memo as { units?: number } | undefined)?.units;
    [answer, state] = await client.withDeadline(Date.now() + QUERY_DEADLINE_MS, () =>
      Promise.all([handle.query(whatIfQuery, action), handle.query(checkoutStateQuery)]),
    );
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) throw new OperationError(`No order ${orderId} in this namespace`);
    if (error instanceof OperationError) throw error;
    throw new OperationError(
      `Order ${orderId} did not answer (is a worker polling the checkout queue?): ${(error as Error).message}`,
    );
  }
  const plan: WhatIfPlan = { orderId, action, status: state.status, compensations: [] };
  if (answer.refused) return { ...plan, refused: answer.refused };
  answer.undos.forEach((group, index) => {
    for (const step of group) {
      const undo = describeUndo(step, state, units);
      // A charge this run has no record of (its answer lost with an earlier run): given back if there is one.
      if (index === 0 && answer.earlierCharge)
        undo.givesBack = 'any charge of the order this run has no record of (nothing when there is none)';
      plan.compensations.push({ ...undo, group: index + 1 });
    }
  });
  return { ...plan, endsAs: answer.endsAs!, then: { activity: 'setOrderStatus', status: answer.endsAs! } };
}

/** Each undo of the checkout (workflows/checkout/gateway.ts), with the key its service deduplicates it by. */
function describeUndo(
  step: string,
  state: CheckoutState,
  units: number | undefined,
): Omit<PlannedCompensation, 'group'> {
  const { orderId, customerId } = state;
  switch (step) {
    case 'quotaChecked':
      return {
        step,
        activity: 'releaseOrderQuota',
        idempotencyKey: `${customerId}/${orderQuotaKey(orderId)}`,
        givesBack: `1 order of ${customerId}'s monthly quota`,
      };
    case 'stockReserved':
      return {
        step,
        activity: 'releaseStock',
        idempotencyKey: `reservation of order ${orderId}`,
        givesBack: units === undefined ? 'the reserved units' : `${units} reserved unit${units === 1 ? '' : 's'}`,
      };
    case 'paymentCharged':
      return {
        step,
        activity: 'refundPayment',
        idempotencyKey: `${idempotencyKeys.refund(orderId)} (${idempotencyKeys.cancel(orderId)} for an intent that took nothing)`,
        givesBack: `${formatMoney(state.totalCents, state.currency)} to the customer${state.paymentIntentId ? ` (${state.paymentIntentId})` : ''}`,
      };
    default:
      return { step, activity: '?', idempotencyKey: '?', givesBack: `the undo of ${step}` };
  }
}

export function formatWhatIf(plan: WhatIfPlan): string {
  const head = `order ${plan.orderId} (${plan.status}), if ${plan.action === 'cancel' ? 'cancelled' : 'it expired'} now:`;
  if (plan.refused) return `${head} nothing would run: ${plan.refused}`;
  const lines = [head];
  plan.compensations.forEach((undo, index) => {
    const together = plan.compensations.filter((other) => other.group === undo.group).length > 1;
    lines.push(
      `  ${index + 1}. ${undo.activity} (undoes ${undo.step}${together ? `, beside the others of group ${undo.group}` : ''}): gives back ${undo.givesBack}; idempotency key ${undo.idempotencyKey}`,
    );
  });
  if (plan.compensations.length === 0) lines.push('  nothing to undo');
  lines.push(`  then setOrderStatus ${plan.endsAs}`, 'nothing was run (a dry run)');
  return lines.join('\n');
}
