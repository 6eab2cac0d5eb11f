/** Quota activities: the checkout's unit of the `orders` quota (consumed, and given back when the order does not go through). */
import { withBusinessFailures } from '../lib/business-failures';
import type { NotificationSignaller } from '../temporal/notification-signal';
import { orderQuotaKey, recordUsageAndNotify } from './usage-recording';
import type { QuotaService, RecordUsageInput, RecordUsageResult } from '../services/quota/quota.service';

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

export function createQuotaActivities(deps: { quota: QuotaService; temporal: NotificationSignaller }) {
  const { quota } = deps;

  /** Consumes one `orders` unit for the order; QUOTA_EXCEEDED (non-retryable) when the plan refuses it. */
  async function reserveOrderQuota(input: ReserveOrderQuotaInput): Promise<ReserveOrderQuotaResult> {
    return recordUsageAndNotify(deps, {
      userId: input.userId,
      resource: 'orders',
      quantity: 1,
      idempotencyKey: orderQuotaKey(input.orderId),
    });
  }

  /** Compensation of reserveOrderQuota: gives the unit back; a no-op when there is nothing to give back. */
  async function releaseOrderQuota(input: ReleaseOrderQuotaInput): Promise<ReleaseOrderQuotaResult> {
    const { released } = await quota.releaseUsage({
      userId: input.userId,
      idempotencyKey: orderQuotaKey(input.orderId),
    });
    return { released };
  }

  /** Records any use (builds, ...) with the caller's idempotency key. */
  async function recordUsage(input: RecordUsageInput): Promise<RecordUsageResult> {
    return recordUsageAndNotify(deps, input);
  }

  return withBusinessFailures({ reserveOrderQuota, releaseOrderQuota, recordUsage });
}

export type QuotaActivities = ReturnType<typeof createQuotaActivities>;
