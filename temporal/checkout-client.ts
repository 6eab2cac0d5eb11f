/**
 * How the storefront steers checkout workflows: place an order (update-with-start), pay,
 * cancel, read its state, relay a payment event. Temporal's failures come back as
 * DomainErrors with the codes the API answers with, so callers never see a gRPC error.
 */
import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
  type Client,
  type WorkflowStartOptions,
} from '@temporalio/client';
import { ApplicationFailure, TypedSearchAttributes } from '@temporalio/common';
import { decodeArrayFromPayloads } from '@temporalio/common/lib/internal-non-workflow';
import { domainErrorFrom } from '../lib/business-failures';
import { DomainError } from '../lib/errors';
import type { ErrorCode } from '../lib/error-codes';
import { formatMoney, itemCount } from '../workflows/checkout/summaries';
import type { checkoutWorkflow } from '../workflows/checkout/checkout.workflow';
import {
  cancelUpdate,
  checkoutStateQuery,
  CUSTOMER_ID_KEY,
  ORDER_STATUS_KEY,
  orderTotalCents,
  orderWorkflowId,
  paymentEventSignal,
  payUpdate,
  placedUpdate,
  TASK_QUEUES,
  type CheckoutInput,
  type CheckoutState,
  type PaymentEventInput,
} from '../workflows/contract';
import { startOrJoin, withinDeadline } from './workflow-calls';

export { isUnavailable, TEMPORAL_UNAVAILABLE } from './workflow-calls';

/**
 * gRPC channel settings for the API's Temporal connection: after an outage gRPC retries the
 * connection with exponential backoff up to two minutes by default; capped at two seconds,
 * the API is back within about two seconds of Temporal.
 */
export const TEMPORAL_CHANNEL_ARGS = {
  'grpc.initial_reconnect_backoff_ms': 250,
  'grpc.max_reconnect_backoff_ms': 2_000,
};

/** The same start options wherever a checkout begins: API, tests, benchmarks, chaos runs. */
export function checkoutStartOptions(
  input: CheckoutInput,
): WorkflowStartOptions<typeof checkoutWorkflow> & { workflowId: string } {
  const totalCents = orderTotalCents(input.lines);
  const units = input.lines.reduce((sum, line) => sum + line.quantity, 0);
  return {
    taskQueue: TASK_QUEUES.checkout,
    workflowId: orderWorkflowId(input.orderId),
    args: [input],
    // A closed order's id is never reused: a late retry finds the old order, it never starts a second.
    workflowIdReusePolicy: 'REJECT_DUPLICATE',
    typedSearchAttributes: new TypedSearchAttributes([
      { key: ORDER_STATUS_KEY, value: 'PENDING' },
      { key: CUSTOMER_ID_KEY, value: input.customerId },
    ]),
    memo: { customerId: input.customerId, totalCents, currency: input.currency, units },
    staticSummary: `Checkout for ${input.customerId}: ${itemCount(units)}, ${formatMoney(totalCents, input.currency)}`,
    // The order's lines, on the workflow's page in the Web UI (Temporal markdown).
    staticDetails: input.lines
      .map(
        (line) =>
          `- ${line.quantity} × ${line.sku} ${line.name} at ${formatMoney(line.unitPriceCents, input.currency)}`,
      )
      .join('\n'),
  };
}

/** One formatter for money in summaries, shared with the workflow's step summaries. */
export { formatMoney } from '../workflows/checkout/summaries';

export interface CheckoutClientOptions {
  /** How long one call may wait for Temporal before it fails with TEMPORAL_UNAVAILABLE. */
  deadlineMs?: number;
}

export class CheckoutClient {
  private readonly deadlineMs: number;

  constructor(
    private readonly client: Client,
    options: CheckoutClientOptions = {},
  ) {
    this.deadlineMs = options.deadlineMs ?? 10_000;
  }

  /**
   * Starts the order's workflow, or joins it when the same order id is already running, and
   * answers once the order is placed (awaiting payment) or refused (its failure in `failure`).
   */
  async place(input: CheckoutInput): Promise<CheckoutState> {
    return this.call(() =>
      startOrJoin<typeof checkoutWorkflow, CheckoutState>(
        this.client,
        placedUpdate,
        'checkoutWorkflow',
        checkoutStartOptions(input),
      ),
    );
  }

  /** The Temporal client and deadline this one uses, for the refund client beside it (temporal/refund-client.ts). */
  get temporal(): { client: Client; deadlineMs: number } {
    return { client: this.client, deadlineMs: this.deadlineMs };
  }

  pay(orderId: string, customerId: string, paymentMethod: string): Promise<CheckoutState> {
    return this.update(
      orderId,
      () => this.handle(orderId).executeUpdate(payUpdate, { args: [{ paymentMethod, customerId }] }),
      'ORDER_NOT_PAYABLE',
    );
  }

  cancel(orderId: string, reason?: string): Promise<CheckoutState> {
    return this.update(
      orderId,
      () => this.handle(orderId).executeUpdate(cancelUpdate, { args: [{ reason }] }),
      'ORDER_NOT_CANCELLABLE',
    );
  }

  /** The workflow's own view of the order (steps, payment events); undefined when Temporal no longer has it. */
  async state(orderId: string): Promise<CheckoutState | undefined> {
    return this.call(async () => {
      try {
        return await this.handle(orderId).query(checkoutStateQuery);
      } catch (error) {
        if (error instanceof WorkflowNotFoundError) return undefined;
        throw error;
      }
    });
  }

  /** Relays a Stripe event; an order whose workflow has closed has nothing left to learn from it. */
  async relayPaymentEvent(orderId: string, event: PaymentEventInput): Promise<boolean> {
    return this.call(async () => {
      try {
        await this.handle(orderId).signal(paymentEventSignal, event);
        return true;
      } catch (error) {
        if (error instanceof WorkflowNotFoundError) return false;
        throw error;
      }
    });
  }

  private handle(orderId: string) {
    return this.client.workflow.getHandle<typeof checkoutWorkflow>(orderWorkflowId(orderId));
  }

  /** An update refused by the workflow's validator or handler carries its code; a closed workflow refuses with `closedCode`. */
  private update(orderId: string, run: () => Promise<CheckoutState>, closedCode: ErrorCode): Promise<CheckoutState> {
    return this.call(async () => {
      try {
        return await run();
      } catch (error) {
        if (error instanceof WorkflowNotFoundError) throw new DomainError(closedCode, `Order ${orderId} is closed`);
        if (
          error instanceof WorkflowUpdateFailedError &&
          error.cause instanceof ApplicationFailure &&
          !endedUnderTheRequest(error)
        ) {
          throw domainErrorFrom(error.cause, 'UPDATE_FAILED');
        }
        throw error;
      }
    });
  }

  private call<T>(run: () => Promise<T>): Promise<T> {
    return withinDeadline(
      this.client,
      {
        deadlineMs: this.deadlineMs,
        unavailableMessage: 'The order service is unavailable; try again shortly',
        alsoUnavailable: endedUnderTheRequest,
      },
      run,
    );
  }
}

/**
 * The order's run ended (an operator terminated or reset it) after it accepted the request and
 * before it answered: nothing is known of the outcome yet, and the same request, sent again once the
 * order has a run (a repair, the reset's new run), is answered. So it is a 503, not the server's fault.
 */
function endedUnderTheRequest(error: unknown): boolean {
  return (
    error instanceof WorkflowUpdateFailedError &&
    error.cause instanceof ApplicationFailure &&
    error.cause.type === 'AcceptedUpdateCompletedWorkflow'
  );
}

/** Whether the order's checkout workflow is running: what the reconciler asks of each order that has not ended. */
export async function checkoutRunning(client: Client, orderId: string): Promise<boolean> {
  try {
    const description = await client.workflow.getHandle(orderWorkflowId(orderId)).describe();
    return description.status.name === 'RUNNING';
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) return false;
    throw error;
  }
}

/**
 * The input the order's latest checkout run started with, decoded as the client decodes payloads
 * (through the codec when they are encrypted); undefined when Temporal holds no run of the order
 * (never started, or past the namespace's retention). For an order its run never recorded.
 */
export async function checkoutInputOf(client: Client, orderId: string): Promise<CheckoutInput | undefined> {
  try {
    const history = await client.workflow.getHandle(orderWorkflowId(orderId)).fetchHistory();
    const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
    if (!started?.input?.payloads?.length) return undefined;
    const [input] = await decodeArrayFromPayloads(client.options.loadedDataConverter, started.input.payloads);
    return input as CheckoutInput;
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) return undefined;
    throw error;
  }
}

/**
 * Starts a checkout run for an order whose run is gone (terminated, timed out, lost to retention):
 * the same input the storefront started it with, rebuilt from the order's record, and the id
 * allowed again. The run adopts the order as the services hold it. Answers undefined when a run
 * of the order is already running: there is nothing to recover.
 */
export async function startRecoveryRun(
  client: Client,
  order: Omit<CheckoutInput, 'ttlSeconds'>,
  ttlSeconds: number,
): Promise<{ runId: string } | undefined> {
  try {
    const handle = await client.workflow.start<typeof checkoutWorkflow>('checkoutWorkflow', {
      ...checkoutStartOptions({ ...order, ttlSeconds }),
      workflowIdReusePolicy: 'ALLOW_DUPLICATE',
    });
    return { runId: handle.firstExecutionRunId };
  } catch (error) {
    if (error instanceof WorkflowExecutionAlreadyStartedError) return undefined;
    throw error;
  }
}
