/**
 * Handing a notification to a user's notification workflow: what the notification activities, the
 * quota's usage recording (in an activity and in the API's POST /v1/usage) and the seed share.
 */
import type { WorkflowClient } from '@temporalio/client';
import {
  TASK_QUEUES,
  notificationWorkflowId,
  notifySignal,
  type NotificationWorkflowInput,
  type NotifyInput,
} from '../workflows/contract';

/** The notification workflow's signature (workflows/notification.workflow.ts), named here so the client side imports no workflow code. */
type NotificationWorkflow = (input: NotificationWorkflowInput) => Promise<void>;

/** The part of a Temporal `Client` that signalling uses (a real Client fits; tests pass a fake). */
export interface NotificationSignaller {
  workflow: Pick<WorkflowClient, 'signalWithStart'>;
}

export interface NotifyUserResult {
  workflowId: string;
}

/**
 * Hands a notification to the user's notification workflow, starting it when it is not running.
 * The workflow and the database drop duplicates by dedupe key, so sending twice is harmless.
 */
export async function signalNotification(
  temporal: NotificationSignaller,
  input: NotifyInput,
): Promise<NotifyUserResult> {
  const workflowId = notificationWorkflowId(input.userId);
  await temporal.workflow.signalWithStart<NotificationWorkflow, [NotifyInput]>('notificationWorkflow', {
    workflowId,
    taskQueue: TASK_QUEUES.checkout,
    args: [{ userId: input.userId }],
    signal: notifySignal,
    signalArgs: [input],
  });
  return { workflowId };
}
