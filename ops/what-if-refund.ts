/**
 * A refund's dry run (`npm run ops -- what-if <orderId> refund [the refund command's flags]`): the
 * refund saga's input worked out by the code that starts it (prepareRefund: the refund id from the
 * key, planRefund's amount and units), and the steps the saga runs for that input (refundSteps),
 * each with the activity it calls, the key that makes it idempotent and its money or units. Nothing runs.
 */
import { DomainError } from '../lib/errors';
import { refundIdempotencyKey } from '../services/payments/refunds.service';
import { statusAfterRefund } from '../services/orders/refunds';
import type { OrderStatus } from '../lib/orders';
import { prepareRefund, type RefundDeps, type RefundRequest } from '../temporal/refund-client';
import { formatMoney } from '../workflows/checkout/summaries';
import {
  refundNoticeKeys,
  refundSteps,
  refundWorkflowId,
  type RefundLine,
  type RefundStep,
} from '../workflows/contract';

export interface PlannedRefundStep {
  step: RefundStep;
  /** The activities it calls, as the refund's history will show them. */
  activities: string[];
  /** What makes a second call a no-op, one per activity. */
  idempotencyKeys: string[];
  /** What it does, with its amount or units. */
  does: string;
}

export interface RefundWhatIf {
  orderId: string;
  idempotencyKey: string;
  refundId: string;
  workflowId: string;
  /** Why nothing would run: refused (with the API's code), or the same request was made before. */
  refused?: { code: string; message: string };
  earlier?: { status: string; amountCents: number; currency: string };
  amountCents?: number;
  currency?: string;
  lines?: RefundLine[];
  restock?: boolean;
  /** The order's status once the refund is recorded on it. */
  endsAs?: OrderStatus;
  steps: PlannedRefundStep[];
}

export async function whatIfRefund(
  deps: Pick<RefundDeps, 'orders' | 'refunds'>,
  request: RefundRequest,
): Promise<RefundWhatIf> {
  let prepared;
  try {
    prepared = await prepareRefund(deps, request);
  } catch (error) {
    if (!(error instanceof DomainError)) throw error;
    return {
      orderId: request.orderId,
      idempotencyKey: request.idempotencyKey,
      refundId: '',
      workflowId: '',
      refused: { code: error.code, message: error.message },
      steps: [],
    };
  }
  if (prepared.earlier) {
    const { id, status, amountCents, currency } = prepared.earlier;
    return {
      orderId: request.orderId,
      idempotencyKey: request.idempotencyKey,
      refundId: id,
      workflowId: refundWorkflowId(id),
      earlier: { status, amountCents, currency },
      steps: [],
    };
  }
  const { input } = prepared;
  const order = (await deps.orders.get(input.orderId))!;
  const endsAs = statusAfterRefund(order.refundedCents + input.amountCents, order.totalCents);
  const money = formatMoney(input.amountCents, input.currency);
  const units = input.lines.map((line) => `${line.quantity} × ${line.productId}`).join(', ');
  const described: Record<RefundStep, Omit<PlannedRefundStep, 'step'>> = {
    refundRecorded: {
      activities: ['recordRefund'],
      idempotencyKeys: [`refund ${input.refundId}`],
      does: `holds ${money} of the order's payment for the refund${units ? ` (${units})` : ''}`,
    },
    moneyRefunded: {
      activities: ['refundAtStripe'],
      idempotencyKeys: [refundIdempotencyKey(input.refundId)],
      does: `refunds ${money} at Stripe`,
    },
    unitsRestocked: {
      activities: ['restockUnits'],
      idempotencyKeys: [`restock of refund ${input.refundId}`],
      does: `puts ${units} back on sale`,
    },
    orderRefunded: {
      activities: ['recordOrderRefund'],
      idempotencyKeys: [`order refund ${input.refundId}`],
      does: `records ${money} on the order, which becomes ${endsAs}`,
    },
    customerNotified: {
      activities: ['persistNotification', 'notifyUser'],
      idempotencyKeys: [
        refundNoticeKeys.orderStatus(input.orderId, endsAs),
        refundNoticeKeys.succeeded(input.refundId),
      ],
      does: `tells ${input.customerId} the order is ${endsAs} and ${money} is refunded`,
    },
  };
  return {
    orderId: input.orderId,
    idempotencyKey: request.idempotencyKey,
    refundId: input.refundId,
    workflowId: refundWorkflowId(input.refundId),
    amountCents: input.amountCents,
    currency: input.currency,
    lines: input.lines,
    restock: input.restock,
    endsAs,
    steps: refundSteps(input).map((step) => ({ step, ...described[step] })),
  };
}

export function formatRefundWhatIf(plan: RefundWhatIf): string {
  const head = `order ${plan.orderId}, if refunded as asked (key ${plan.idempotencyKey}):`;
  if (plan.refused) return `${head} nothing would run: refused, ${plan.refused.code}: ${plan.refused.message}`;
  if (plan.earlier)
    return `${head} nothing would run: this request was made before, refund ${plan.refundId} (${plan.earlier.status}, ${formatMoney(plan.earlier.amountCents, plan.earlier.currency)})`;
  const lines = [
    head,
    `  refund ${plan.refundId} (workflow ${plan.workflowId}): ${formatMoney(plan.amountCents!, plan.currency!)}` +
      `${plan.lines!.length ? `, ${plan.lines!.map((l) => `${l.quantity} × ${l.productId}`).join(', ')}` : ', no units'}` +
      `${plan.restock ? (plan.lines!.length ? ', restocked' : ' (nothing to restock)') : ', not restocked'}`,
  ];
  plan.steps.forEach((step, index) =>
    lines.push(
      `  ${index + 1}. ${step.activities.join(' + ')} (${step.step}): ${step.does}; idempotency key ${step.idempotencyKeys.join(', ')}`,
    ),
  );
  lines.push(`  the order ends ${plan.endsAs}`, 'nothing was run (a dry run)');
  return lines.join('\n');
}
