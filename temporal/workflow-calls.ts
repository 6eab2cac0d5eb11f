/**
 * What the storefront's workflow clients (checkout-client.ts, refund-client.ts) do alike: every call
 * has a deadline, and Temporal out of reach comes back as TEMPORAL_UNAVAILABLE; a request starts its
 * workflow or joins the one with its id, and is answered by an update, or by the run's result when
 * that run has already ended.
 */
import {
  WithStartWorkflowOperation,
  WorkflowExecutionAlreadyStartedError,
  type Client,
  type WorkflowStartOptions,
} from '@temporalio/client';
import type { UpdateDefinition, Workflow } from '@temporalio/common';
import { DomainError } from '../lib/errors';

export const TEMPORAL_UNAVAILABLE = 'TEMPORAL_UNAVAILABLE';

/**
 * gRPC UNAVAILABLE (14), DEADLINE_EXCEEDED (4) or CANCELLED (1: only our deadline cancels
 * calls), however the client wraps them.
 */
export function isUnavailable(error: unknown): boolean {
  for (
    let e = error as { code?: unknown; cause?: unknown; name?: string } | undefined, depth = 0;
    e && depth < 5;
    e = e.cause as typeof e, depth++
  ) {
    if (e.code === 14 || e.code === 4 || e.code === 1 || e.name === 'TimeoutError') return true;
  }
  return false;
}

export interface DeadlineOptions {
  deadlineMs: number;
  /** What the caller is told when Temporal is out of reach ("The order service is unavailable; ..."). */
  unavailableMessage: string;
  /** Other failures that mean "not known yet, ask again" to this client's callers. */
  alsoUnavailable?: (error: unknown) => boolean;
}

/** Runs `run` within the deadline: with Temporal down, callers get TEMPORAL_UNAVAILABLE quickly instead of hanging. */
export async function withinDeadline<T>(client: Client, options: DeadlineOptions, run: () => Promise<T>): Promise<T> {
  try {
    return await client.withDeadline(Date.now() + options.deadlineMs, run);
  } catch (error) {
    if (error instanceof DomainError) throw error;
    if (isUnavailable(error) || options.alsoUnavailable?.(error))
      throw new DomainError(TEMPORAL_UNAVAILABLE, options.unavailableMessage);
    throw error;
  }
}

/**
 * Starts the workflow, or joins the run with its id, and answers with `update`'s result. A workflow
 * whose id is never reused (REJECT_DUPLICATE) and whose run has ended refuses the start: the run's
 * result is then the answer, which the update and the workflow both give as the same type.
 */
export async function startOrJoin<W extends Workflow, R>(
  client: Client,
  update: UpdateDefinition<R, []>,
  workflowType: string,
  options: WorkflowStartOptions<W>,
): Promise<R> {
  try {
    return await client.workflow.executeUpdateWithStart(update, {
      startWorkflowOperation: new WithStartWorkflowOperation<W>(workflowType, {
        ...options,
        workflowIdConflictPolicy: 'USE_EXISTING',
      }),
    });
  } catch (error) {
    if (error instanceof WorkflowExecutionAlreadyStartedError)
      return (await client.workflow.getHandle<W>(options.workflowId).result()) as R;
    throw error;
  }
}
