/** Quota activities: check-and-consume usage (orders per month for checkout) and tell the user about crossed thresholds. */
import { ApplicationFailure } from '@temporalio/common';
import type { NotifyInput } from '../workflows/contract';
import { QuotaError, type QuotaService, type RecordUsageInput, type RecordUsageResult, type Threshold } from '../services/quota/quota.service';
import { signalNotification, type NotificationSignaller } from './notifications.activities';

export interface ReserveOrderQuotaInput {
  userId: string;
  orderId: string;
}

export type ReserveOrderQuotaResult = RecordUsageResult;

export interface ReleaseOrderQuotaInput {
  userId: string;
  orderId: string;
}

export interface ReleaseOrderQuotaResult {
  /** False when nothing was reserved for the order or it had been released already. */
  released: boolean;
}

export type { RecordUsageInput, RecordUsageResult } from '../services/quota/quota.service';

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

export function createQuotaActivities(deps: { quota: QuotaService; temporal: NotificationSignaller }) {
  const { quota, temporal } = deps;

  // A retry whose first try recorded the event but crashed before signalling gets the
  // crossings again from the replay (they were never marked notified) and signals them; one
  // whose first try signalled gets none and signals nothing. Between signalling and marking, a
  // crash can still signal twice: the dedupe key makes that one notification.
  async function notifyCrossings(userId: string, idempotencyKey: string, outcome: RecordUsageResult): Promise<void> {
    if (outcome.crossed.length === 0) return;
    for (const threshold of outcome.crossed) {
      await signalNotification(temporal, quotaNotification(userId, outcome, threshold));
    }
    await quota.markNotified(userId, idempotencyKey);
  }

  async function consume(input: RecordUsageInput): Promise<RecordUsageResult> {
    let outcome: RecordUsageResult;
    try {
      // Through Temporal's JSON payloads a Date arrives as a string.
      outcome = await quota.recordUsage({ ...input, at: input.at === undefined ? undefined : new Date(input.at) });
    } catch (error) {
      if (error instanceof QuotaError) {
        throw ApplicationFailure.nonRetryable(error.message, error.code, error.details ?? {});
      }
      throw error;
    }
    await notifyCrossings(input.userId, input.idempotencyKey, outcome);
    return outcome;
  }

  /** Consumes one `orders` unit for the order; QUOTA_EXCEEDED (non-retryable) when the plan refuses it. */
  async function reserveOrderQuota(input: ReserveOrderQuotaInput): Promise<ReserveOrderQuotaResult> {
    return consume({ userId: input.userId, resource: 'orders', quantity: 1, idempotencyKey: orderQuotaKey(input.orderId) });
  }

  /** Compensation of reserveOrderQuota: gives the unit back; a no-op when there is nothing to give back. */
  async function releaseOrderQuota(input: ReleaseOrderQuotaInput): Promise<ReleaseOrderQuotaResult> {
    const { released } = await quota.releaseUsage({ userId: input.userId, idempotencyKey: orderQuotaKey(input.orderId) });
    return { released };
  }

  /** Records any use (builds, ...) with the caller's idempotency key. */
  async function recordUsage(input: RecordUsageInput): Promise<RecordUsageResult> {
    return consume(input);
  }

  return { reserveOrderQuota, releaseOrderQuota, recordUsage };
}

export type QuotaActivities = ReturnType<typeof createQuotaActivities>;
