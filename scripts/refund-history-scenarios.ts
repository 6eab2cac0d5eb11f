/**
 * The refund saga's recorded histories (`npm run histories:record`, scripts/record-histories.ts): a
 * full refund with its units restocked, a partial one by amount, and one Stripe refuses. In-memory
 * activities, as for the checkout's: a history records the workflow's decisions.
 */
import type { Client } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { refundWorkflow } from '../workflows/refund/refund.workflow';
import {
  refundSettledUpdate,
  refundWorkflowId,
  TASK_QUEUES,
  type OrderStatus,
  type RefundInput,
  type RefundState,
} from '../workflows/contract';

const PRODUCT = '00000000-0000-4000-8000-000000000001';

/** A refund of the recorded checkouts' order (two units, 25.00 in all). */
function refundInput(overrides: Partial<RefundInput>): RefundInput {
  return {
    refundId: randomUUID(),
    orderId: randomUUID(),
    customerId: 'history-customer',
    amountCents: 2_500,
    currency: 'usd',
    lines: [{ productId: PRODUCT, quantity: 2 }],
    soldUnits: [{ productId: PRODUCT, quantity: 2 }],
    restock: true,
    reason: 'returned',
    requestHash: 'history',
    requestedBy: 'history-admin',
    ...overrides,
  };
}

/** The refund activities answering as the services would, Stripe saying `stripeStatus`. */
function refundActivities(stripeStatus: 'SUCCEEDED' | 'FAILED', orderStatus: OrderStatus) {
  const refund = (input: { refundId: string }, status: string, failure: object | null = null) => ({
    refundId: input.refundId,
    status,
    amountCents: 2_500,
    stripeRefundId: 're_1',
    failure,
  });
  const refused = { code: 'charge_already_refunded', message: 'Charge ch_1 has already been refunded.' };
  return {
    recordRefund: async (input: { refundId: string }) => refund(input, 'PENDING'),
    refundAtStripe: async (input: { refundId: string }) =>
      stripeStatus === 'SUCCEEDED' ? refund(input, 'SUCCEEDED') : refund(input, 'FAILED', refused),
    findRefund: async (input: { refundId: string }) => refund(input, stripeStatus),
    failRefund: async (input: { refundId: string }) => refund(input, 'FAILED', refused),
    restockUnits: async () => ({ units: 2, restocked: true }),
    recordOrderRefund: async (input: { orderId: string; amountCents: number }) => ({
      orderId: input.orderId,
      status: orderStatus,
      refundedCents: input.amountCents,
      totalCents: 2_500,
    }),
  };
}

/** Starts the refund, asks for its settled money as the API does, and checks where it ended. */
function runRefund(input: RefundInput, expected: (end: RefundState) => boolean, what: string) {
  return async (client: Client) => {
    const handle = await client.workflow.start(refundWorkflow, {
      taskQueue: TASK_QUEUES.checkout,
      workflowId: refundWorkflowId(input.refundId),
      args: [input],
    });
    await handle.executeUpdate(refundSettledUpdate);
    const end = await handle.result();
    if (!expected(end)) throw new Error(`the refund did not ${what}: ${JSON.stringify(end)}`);
    return { workflowId: handle.workflowId, runId: handle.firstExecutionRunId };
  };
}

export const REFUND_SCENARIOS = [
  {
    name: 'refund-full',
    activities: refundActivities('SUCCEEDED', 'REFUNDED'),
    drive: async () => undefined,
    other: runRefund(
      refundInput({}),
      (end) => end.status === 'SUCCEEDED' && end.completedSteps.includes('unitsRestocked'),
      'refund everything and restock',
    ),
  },
  {
    name: 'refund-partial',
    activities: refundActivities('SUCCEEDED', 'PARTIALLY_REFUNDED'),
    drive: async () => undefined,
    other: runRefund(
      refundInput({ amountCents: 700, lines: [], restock: false }),
      (end) => end.orderStatus === 'PARTIALLY_REFUNDED' && !end.completedSteps.includes('unitsRestocked'),
      'refund an amount without restocking',
    ),
  },
  {
    name: 'refund-refused',
    activities: refundActivities('FAILED', 'COMPLETED'),
    drive: async () => undefined,
    other: runRefund(
      refundInput({}),
      (end) => end.status === 'FAILED' && end.compensatedSteps.includes('refundRecorded'),
      'end FAILED with its record undone',
    ),
  },
];
