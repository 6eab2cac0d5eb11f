/**
 * How the storefront and the operators' commands ask for a refund after the sale: the refund's id
 * is derived from the order and the Idempotency-Key (duplicates meet at one workflow id), what it
 * refunds is worked out from the order's lines and what is left of its payment, and the refund
 * saga is started (or joined) with an update that answers once the money is settled.
 */
import { createHash } from 'node:crypto';
import { v5 as uuidv5 } from 'uuid';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { DomainError } from '../lib/errors';
import { isSold } from '../lib/orders';
import type { OrderView } from '../services/orders/orders.service';
import type { RefundableView, RefundsService, RefundView } from '../services/payments/refunds.service';
import { formatMoney } from '../workflows/checkout/summaries';
import type { refundWorkflow } from '../workflows/refund/refund.workflow';
import {
  refundEventSignal,
  refundSettledUpdate,
  refundStateQuery,
  refundWorkflowId,
  TASK_QUEUES,
  type RefundInput,
  type RefundLine,
  type RefundState,
} from '../workflows/contract';
import { startOrJoin, withinDeadline } from './workflow-calls';

/** Namespace of the refund ids derived from (order, Idempotency-Key); fixed forever. */
const REFUND_ID_NAMESPACE = '3b0f8a9e-4d8c-4f7e-a1c6-5e2d9b7c0f13';

/** A refund as asked for: units of lines at their price, an amount, or (neither) everything left. */
export interface RefundRequest {
  orderId: string;
  idempotencyKey: string;
  lines?: RefundLine[];
  amountCents?: number;
  reason: string;
  restock: boolean;
  /** The admin's user id, or `ops`. */
  requestedBy: string;
}

export interface RefundDeps {
  orders: { get(orderId: string): Promise<OrderView | null> };
  refunds: Pick<RefundsService, 'get' | 'refundable'>;
  client: RefundClient;
}

export interface RefundOutcome {
  refund: RefundView;
  /** True when this request repeated an earlier one with the same Idempotency-Key. */
  replayed: boolean;
}

/** The refund id of an (order, Idempotency-Key). */
export function refundIdFor(orderId: string, idempotencyKey: string): string {
  return uuidv5(`${orderId}\n${idempotencyKey}`, REFUND_ID_NAMESPACE);
}

/** A canonical hash of the request as sent (lines in product order). */
export function hashRefundRequest(request: Pick<RefundRequest, 'lines' | 'amountCents' | 'reason' | 'restock'>) {
  const lines = request.lines
    ? [...request.lines].sort((a, b) => a.productId.localeCompare(b.productId)).map((l) => [l.productId, l.quantity])
    : null;
  const canonical = [lines, request.amountCents ?? null, request.reason, request.restock];
  return createHash('sha256').update(JSON.stringify(canonical)).digest('hex');
}

/** A request made ready for the refund saga: its input, or the refund the same key asked for before. */
export type PreparedRefund = { earlier: RefundView; input?: undefined } | { input: RefundInput; earlier?: undefined };

/**
 * What the refund saga would be started with for this request, running nothing: the refund id
 * derived from the key, what it refunds (planRefund), and the order's sold units. requestRefund
 * starts exactly this; `npm run ops -- what-if <orderId> refund` shows it.
 */
export async function prepareRefund(
  deps: Pick<RefundDeps, 'orders' | 'refunds'>,
  request: RefundRequest,
): Promise<PreparedRefund> {
  if (request.lines && request.amountCents !== undefined)
    throw new DomainError('VALIDATION_FAILED', 'A refund names lines or an amount, not both');
  const refundId = refundIdFor(request.orderId, request.idempotencyKey);
  const requestHash = hashRefundRequest(request);
  const earlier = await deps.refunds.get(refundId);
  if (earlier) return { earlier: sameRequest(earlier.requestHash, requestHash, earlier) };

  const order = await deps.orders.get(request.orderId);
  if (!order) throw new DomainError('ORDER_NOT_FOUND', `No order ${request.orderId}`);
  const left = isSold(order.status) ? await deps.refunds.refundable(order.id) : undefined;
  if (!left)
    throw new DomainError(
      'ORDER_NOT_REFUNDABLE',
      order.status === 'PAID'
        ? `Order ${order.id} is paid and still being fulfilled; refund it once it is COMPLETED`
        : `Order ${order.id} was never paid (${order.status})`,
    );
  const soldUnits = order.lines.map(({ productId, quantity }) => ({ productId, quantity }));
  return {
    input: {
      refundId,
      orderId: order.id,
      customerId: order.customerId,
      currency: order.currency,
      soldUnits,
      restock: request.restock,
      reason: request.reason,
      requestHash,
      requestedBy: request.requestedBy,
      ...planRefund(order, left, request),
    },
  };
}

/**
 * Asks for a refund and answers with it once its money is settled (SUCCEEDED, FAILED, or PENDING
 * while Stripe processes it). What is left is read first for a quick, clear refusal; the payments
 * service decides again, atomically, when the saga records the refund, so refunds racing for the
 * same money have one winner.
 */
export async function requestRefund(deps: RefundDeps, request: RefundRequest): Promise<RefundOutcome> {
  const prepared = await prepareRefund(deps, request);
  if (prepared.earlier) return { refund: prepared.earlier, replayed: true };
  const { refundId, requestHash } = prepared.input;
  const state = await deps.client.request(prepared.input);
  sameRequest(state.requestHash, requestHash, state);
  if (!state.recorded) {
    const failure = state.failure ?? { code: 'REFUND_EXCEEDS_PAYMENT', message: 'The refund was refused' };
    throw new DomainError(
      failure.code === 'IDEMPOTENCY_KEY_REUSED' || failure.code === 'ORDER_NOT_REFUNDABLE'
        ? failure.code
        : 'REFUND_EXCEEDS_PAYMENT',
      failure.message,
    );
  }
  const refund = await deps.refunds.get(refundId);
  if (!refund) throw new Error(`Refund ${refundId} is ${state.status} in its workflow but has no row`);
  return { refund, replayed: false };
}

/**
 * What a request refunds: lines at their order-line price (and those units), an amount (no units),
 * or everything left (the money left, and the units no refund took yet). More than is left is
 * REFUND_EXCEEDS_PAYMENT.
 */
export function planRefund(
  order: Pick<OrderView, 'lines' | 'currency'>,
  left: RefundableView,
  request: Pick<RefundRequest, 'lines' | 'amountCents'>,
): { amountCents: number; lines: RefundLine[] } {
  const moneyLeft = left.capturedCents - left.refundedCents;
  const unitsLeft = (productId: string) => {
    const line = order.lines.find((l) => l.productId === productId);
    return line ? line.quantity - (left.refundedUnits.get(productId) ?? 0) : 0;
  };
  const exceeds = (message: string) => new DomainError('REFUND_EXCEEDS_PAYMENT', message);
  let planned: { amountCents: number; lines: RefundLine[] };
  if (request.lines) {
    const merged = new Map<string, number>();
    for (const line of request.lines) merged.set(line.productId, (merged.get(line.productId) ?? 0) + line.quantity);
    const lines = [...merged].map(([productId, quantity]) => ({ productId, quantity }));
    for (const line of lines)
      if (line.quantity > unitsLeft(line.productId))
        throw exceeds(
          `${line.quantity} units of ${line.productId} asked; ${Math.max(0, unitsLeft(line.productId))} are left to refund`,
        );
    const amountCents = lines.reduce(
      (sum, line) => sum + line.quantity * order.lines.find((l) => l.productId === line.productId)!.unitPriceCents,
      0,
    );
    planned = { amountCents, lines };
  } else if (request.amountCents !== undefined) {
    planned = { amountCents: request.amountCents, lines: [] };
  } else {
    const lines = order.lines
      .map((line) => ({ productId: line.productId, quantity: unitsLeft(line.productId) }))
      .filter((line) => line.quantity > 0);
    planned = { amountCents: moneyLeft, lines };
  }
  if (planned.amountCents > moneyLeft || moneyLeft === 0)
    throw exceeds(
      `${formatMoney(planned.amountCents, order.currency)} asked; ${formatMoney(moneyLeft, order.currency)} of the ${formatMoney(left.capturedCents, order.currency)} paid is left to refund`,
    );
  if (planned.amountCents <= 0) throw new DomainError('VALIDATION_FAILED', 'A refund gives back at least 1 cent');
  return planned;
}

function sameRequest<T>(earlierHash: string | null, requestHash: string, answer: T): T {
  if (earlierHash !== requestHash)
    throw new DomainError('IDEMPOTENCY_KEY_REUSED', 'This Idempotency-Key was used for a different refund request');
  return answer;
}

export interface RefundClientOptions {
  /** How long one call may wait for Temporal before it fails with TEMPORAL_UNAVAILABLE. */
  deadlineMs?: number;
}

/** The refund saga's client: start or join it, read it, relay Stripe's news of it. */
export class RefundClient {
  private readonly deadlineMs: number;

  constructor(
    private readonly client: Client,
    options: RefundClientOptions = {},
  ) {
    this.deadlineMs = options.deadlineMs ?? 10_000;
  }

  /** Starts the refund's saga, or joins it, and answers once its money is settled. */
  async request(input: RefundInput): Promise<RefundState> {
    return this.call(() =>
      startOrJoin<typeof refundWorkflow, RefundState>(this.client, refundSettledUpdate, 'refundWorkflow', {
        taskQueue: TASK_QUEUES.checkout,
        workflowId: refundWorkflowId(input.refundId),
        args: [input],
        // A refund's id is never reused: the same key finds the same refund, however it ended.
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        staticSummary: `Refund ${formatMoney(input.amountCents, input.currency)} of order ${input.orderId}: ${input.reason}`,
      }),
    );
  }

  /** The saga's own view of the refund; undefined when Temporal has no such workflow. */
  async state(refundId: string): Promise<RefundState | undefined> {
    return this.call(async () => {
      try {
        return await this.client.workflow.getHandle(refundWorkflowId(refundId)).query(refundStateQuery);
      } catch (error) {
        if (error instanceof WorkflowNotFoundError) return undefined;
        throw error;
      }
    });
  }

  /** Tells a refund waiting for Stripe that its webhook said something; false when it no longer waits. */
  async relayStripeEvent(refundId: string, event: { eventId: string; type: string }): Promise<boolean> {
    return this.call(async () => {
      try {
        await this.client.workflow.getHandle(refundWorkflowId(refundId)).signal(refundEventSignal, event);
        return true;
      } catch (error) {
        if (error instanceof WorkflowNotFoundError) return false;
        throw error;
      }
    });
  }

  /** Every call has a deadline: with Temporal down, callers get TEMPORAL_UNAVAILABLE quickly instead of hanging. */
  private call<T>(run: () => Promise<T>): Promise<T> {
    return withinDeadline(
      this.client,
      { deadlineMs: this.deadlineMs, unavailableMessage: 'The refund service is unavailable; try again shortly' },
      run,
    );
  }
}
