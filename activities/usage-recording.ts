/**
 * Recording usage and telling the user of each threshold it crosses: one definition for the quota
 * activity (the checkout's `orders` unit) and the API's POST /v1/usage (builds and the like), which
 * runs it in the request because its caller needs the outcome now.
 */
import type { NotifyInput } from '../workflows/contract';
import type { QuotaService, RecordUsageInput, RecordUsageResult, Threshold } from '../services/quota/quota.service';
import { signalNotification, type NotificationSignaller } from '../temporal/notification-signal';

/** The idempotency key of an order's unit of the `orders` quota. */
export const orderQuotaKey = (orderId: string): string => `order:${orderId}`;

/** One notification per user, resource, period and threshold, however often it is reported. */
export const quotaDedupeKey = (resource: string, period: string, threshold: Threshold): string =>
  `quota:${resource}:${period}:${threshold}`;

/** What the user is told when usage crosses a threshold. */
export function quotaNotification(userId: string, outcome: RecordUsageResult, threshold: Threshold): NotifyInput {
  const { resource, period, used, limit, enforcement } = outcome;
  const reached = threshold >= 100;
  const message = reached
    ? enforcement === 'HARD'
      ? `You have used all ${limit} ${resource} of your plan this month; further ${resource} are refused until next month.`
      : `You have reached your plan's ${limit} ${resource} this month (${used} used); you are now over your plan.`
    : `You have used ${threshold} % of your ${limit} ${resource} this month (${used} used).`;
  return {
    userId,
    kind: 'NOTIFICATION',
    type: reached ? 'quota.exceeded' : 'quota.warning',
    payload: { resource, period, threshold, used, limit, enforcement, message },
    dedupeKey: quotaDedupeKey(resource, period, threshold),
  };
}

/**
 * Records the use (a QuotaError when the plan refuses it), then signals each crossed threshold.
 *
 * A retry whose first try recorded the event but failed before signalling gets the crossings again
 * from the replay (they were never marked notified) and signals them; one whose first try signalled
 * gets none and signals nothing. Between signalling and marking, a crash can still signal twice:
 * the dedupe key makes that one notification. A Temporal error while signalling propagates: the
 * usage is recorded, and the caller retries with the same key.
 */
export async function recordUsageAndNotify(
  deps: { quota: QuotaService; temporal: NotificationSignaller },
  input: RecordUsageInput,
): Promise<RecordUsageResult> {
  const { quota, temporal } = deps;
  // Through Temporal's JSON payloads a Date arrives as a string.
  const outcome = await quota.recordUsage({ ...input, at: input.at === undefined ? undefined : new Date(input.at) });
  if (outcome.crossed.length > 0) {
    for (const threshold of outcome.crossed)
      await signalNotification(temporal, quotaNotification(input.userId, outcome, threshold));
    await quota.markNotified(input.userId, input.idempotencyKey);
  }
  return outcome;
}
