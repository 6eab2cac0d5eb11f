/** Notification activities: persist one notification (called by the notification workflow) and push one to a user's workflow. */
import type { WorkflowClient } from '@temporalio/client';
import { TASK_QUEUES, notificationWorkflowId, notifySignal, type NotifyInput } from '../workflows/contract';
import type { NotificationsService } from '../services/notifications/notifications.service';
import type { notificationWorkflow } from '../workflows/notification.workflow';

/** The part of a Temporal `Client` these activities use (a real Client fits; tests pass a fake). */
export interface NotificationSignaller {
  workflow: Pick<WorkflowClient, 'signalWithStart'>;
}

export interface PersistNotificationResult {
  id: string;
  sequence: number;
  /** False when the dedupe key was known and the existing notification was kept. */
  created: boolean;
}

export interface NotifyUserResult {
  workflowId: string;
}

/**
 * Hands a notification to the user's notification workflow, starting it when it is not running.
 * The workflow and the database drop duplicates by dedupe key, so sending twice is harmless.
 */
export async function signalNotification(temporal: NotificationSignaller, input: NotifyInput): Promise<NotifyUserResult> {
  const workflowId = notificationWorkflowId(input.userId);
  await temporal.workflow.signalWithStart<typeof notificationWorkflow, [NotifyInput]>('notificationWorkflow', {
    workflowId,
    taskQueue: TASK_QUEUES.checkout,
    args: [{ userId: input.userId }],
    signal: notifySignal,
    signalArgs: [input],
  });
  return { workflowId };
}

export function createNotificationActivities(deps: { notifications: NotificationsService; temporal: NotificationSignaller }) {
  const { notifications, temporal } = deps;

  /** One local transaction: the row (once per dedupe key) and its per-user sequence, then the live announcement. */
  async function persistNotification(input: NotifyInput): Promise<PersistNotificationResult> {
    const { notification, created } = await notifications.persist(input);
    return { id: notification.id, sequence: notification.sequence, created };
  }

  /** How other workflows (checkout) push an event, e.g. an order status change, to the user. */
  async function notifyUser(input: NotifyInput): Promise<NotifyUserResult> {
    return signalNotification(temporal, input);
  }

  return { persistNotification, notifyUser };
}

export type NotificationActivities = ReturnType<typeof createNotificationActivities>;
