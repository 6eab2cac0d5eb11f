/** Notification activities: persist one notification (called by the notification workflow) and push one to a user's workflow. */
import type { NotifyInput } from '../workflows/contract';
import type { NotificationsService } from '../services/notifications/notifications.service';
import { signalNotification, type NotificationSignaller, type NotifyUserResult } from '../temporal/notification-signal';

export interface PersistNotificationResult {
  id: string;
  sequence: number;
  /** False when the dedupe key was known and the existing notification was kept. */
  created: boolean;
}

export function createNotificationActivities(deps: {
  notifications: NotificationsService;
  temporal: NotificationSignaller;
}) {
  const { notifications, temporal } = deps;

  /** One statement: the row (once per dedupe key), its per-user sequence and the live announcement, delivered at commit. */
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
