/**
 * Repairing a stranded order (one not ended whose checkout workflow is gone): start a recovery
 * run, which adopts the order as the services record it and resumes or unwinds it. The operator's
 * `npm run ops -- repair` and the scheduled reconciler both come through here; the reconciler
 * repairs on its own only what cannot have taken money and is past its deadline.
 */
import type { Client } from '@temporalio/client';
import { isTerminalStatus } from '../lib/orders';
import type { OrdersService } from '../services/orders/orders.service';
import type { PaymentsService } from '../services/payments/payments.service';
import { checkoutInputOf, checkoutRunning, startRecoveryRun } from '../temporal/checkout-client';

export interface RepairDeps {
  temporal: Client;
  orders: Pick<OrdersService, 'get'>;
  payments: Pick<PaymentsService, 'get'>;
  /** The time-to-live a recovery run gives an order that had not started waiting yet (PENDING). */
  orderTtlSeconds: number;
}

export type RepairOutcome = { action: 'started'; runId: string; detail: string } | { action: 'left'; detail: string };

/** Why the scheduled reconciler leaves a stranded order to an operator, or undefined when it is safe to repair alone. */
export async function reasonToLeave(deps: RepairDeps, orderId: string, now = new Date()): Promise<string | undefined> {
  const order = await deps.orders.get(orderId);
  if (!order) return 'no such order';
  if (order.status !== 'AWAITING_PAYMENT') return `it is ${order.status}: an operator decides`;
  if (!order.expiresAt || order.expiresAt > now) return 'it has not passed its deadline yet';
  const payment = await deps.payments.get(orderId);
  const charged =
    payment?.status === 'SUCCEEDED' || payment?.attempts.some((attempt) => attempt.outcome !== 'DECLINED');
  return charged ? 'a charge was taken or may be in flight: an operator decides' : undefined;
}

/**
 * Starts a recovery run of the order unless it has ended or its workflow is running. An order its
 * run never recorded (terminated before its createOrder ran, with its stock or quota unit already
 * taken) is recovered from the input that run started with, while Temporal still has it.
 */
export async function repairOrder(deps: RepairDeps, orderId: string): Promise<RepairOutcome> {
  const order = await deps.orders.get(orderId);
  if (order && isTerminalStatus(order.status))
    return { action: 'left', detail: `order ${orderId} has ended (${order.status})` };
  if (await checkoutRunning(deps.temporal, orderId))
    return { action: 'left', detail: `order ${orderId} has a running checkout workflow: nothing to repair` };
  const input = order
    ? {
        orderId,
        customerId: order.customerId,
        lines: order.lines,
        currency: order.currency,
        ...(order.idempotencyKey ? { idempotencyKey: order.idempotencyKey } : {}),
        ...(order.requestHash ? { requestHash: order.requestHash } : {}),
      }
    : await checkoutInputOf(deps.temporal, orderId);
  if (!input) return { action: 'left', detail: `no order ${orderId}, and Temporal holds no checkout of it` };
  const started = await startRecoveryRun(deps.temporal, input, deps.orderTtlSeconds);
  if (!started)
    return { action: 'left', detail: `order ${orderId} has a running checkout workflow: nothing to repair` };
  return {
    action: 'started',
    runId: started.runId,
    detail: `started a recovery run of order ${orderId} (${order?.status ?? 'never recorded'}); it resumes or unwinds the order`,
  };
}
