/** The per-user notification workflow: receives notify signals in order, drops duplicates, persists each through an activity. */
import {
  allHandlersFinished,
  condition,
  continueAsNew,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import { notificationPersistOptions } from './activity-options';
import { notifySignal, type NotificationWorkflowInput, type NotifyInput } from './contract';
import type { createNotificationActivities } from '../activities/notifications.activities';

/** Settings a test (or an operator) may pass; all are carried across continue-as-new. */
export interface NotificationWorkflowSettings {
  /** Continue as new once the history has this many events (default 2,000), or when Temporal suggests it. */
  maxHistoryEvents?: number;
  /** How many recent dedupe keys the workflow remembers (default 1,000); the database is the final guard. */
  maxDedupeKeys?: number;
  /** Where persistNotification runs (default the `notifications` task queue). */
  activityTaskQueue?: string;
  /** Signals received but not yet persisted by the previous run (see the drain below). */
  pendingNotifications?: NotifyInput[];
}

export type NotificationWorkflowArgs = NotificationWorkflowInput & NotificationWorkflowSettings;

export const DEFAULT_MAX_HISTORY_EVENTS = 2_000;
export const DEFAULT_MAX_DEDUPE_KEYS = 1_000;

export async function notificationWorkflow(input: NotificationWorkflowArgs): Promise<void> {
  const maxHistoryEvents = input.maxHistoryEvents ?? DEFAULT_MAX_HISTORY_EVENTS;
  const seen = new RecentKeys(input.maxDedupeKeys ?? DEFAULT_MAX_DEDUPE_KEYS, input.seenDedupeKeys ?? []);
  const { persistNotification } = proxyActivities<ReturnType<typeof createNotificationActivities>>(
    notificationPersistOptions(input.activityTaskQueue),
  );

  // Signals only queue up; one loop persists them, so they are processed in arrival order.
  const pending: NotifyInput[] = [...(input.pendingNotifications ?? [])];
  setHandler(notifySignal, (notification) => {
    pending.push(notification);
  });

  const historyIsLong = () => workflowInfo().continueAsNewSuggested || workflowInfo().historyLength >= maxHistoryEvents;
  // Draining a backlog that keeps growing must not grow the history without bound.
  const historyIsTooLong = () => workflowInfo().historyLength >= 2 * maxHistoryEvents;

  for (;;) {
    await condition(() => pending.length > 0 || historyIsLong());
    while (pending.length > 0 && !historyIsTooLong()) {
      const notification = pending.shift() as NotifyInput;
      if (seen.has(notification.dedupeKey)) continue;
      await persistNotification(notification);
      seen.add(notification.dedupeKey);
    }
    if (!historyIsLong()) continue;
    // Signal handlers only queue, so they are finished at once; waiting keeps it so if one
    // ever awaits. Signals that arrived while the last activity ran are persisted first (the
    // loop goes round again) unless the history is too long, when they travel, in order, in
    // the next run's input. A signal arriving during this very workflow task makes the server
    // refuse the continue-as-new and deliver it to this run, so none is lost.
    await condition(allHandlersFinished);
    if (pending.length > 0 && !historyIsTooLong()) continue;
    await continueAsNew<typeof notificationWorkflow>({
      userId: input.userId,
      seenDedupeKeys: seen.toArray(),
      maxHistoryEvents: input.maxHistoryEvents,
      maxDedupeKeys: input.maxDedupeKeys,
      activityTaskQueue: input.activityTaskQueue,
      pendingNotifications: pending.length > 0 ? [...pending] : undefined,
    });
  }
}

/** The last `capacity` keys, oldest dropped first. */
class RecentKeys {
  private readonly keys = new Set<string>();

  constructor(
    private readonly capacity: number,
    initial: string[],
  ) {
    for (const key of initial) this.add(key);
  }

  has(key: string): boolean {
    return this.keys.has(key);
  }

  add(key: string): void {
    // Re-adding moves the key to the newest end.
    this.keys.delete(key);
    this.keys.add(key);
    while (this.keys.size > this.capacity) {
      const oldest = this.keys.values().next().value as string;
      this.keys.delete(oldest);
    }
  }

  toArray(): string[] {
    return [...this.keys];
  }
}
