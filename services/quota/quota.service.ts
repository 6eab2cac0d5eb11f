/** Usage quotas: atomic check-and-consume per user, resource and monthly period, idempotent by key. */
import { DomainError } from '../../lib/errors';
import { ROW_LOCK_QUEUE_TRANSACTION } from '../../lib/db/transaction-options';
import type { QuotaDb } from './db';
import type { HoldingLimits } from '../../lib/holding-limits';
import type { Prisma } from './generated/client';

export type Enforcement = 'SOFT' | 'HARD';

/** Percentages of a limit at which the user is told: a warning, then the limit itself. */
export const THRESHOLDS = [80, 100] as const;
export type Threshold = (typeof THRESHOLDS)[number];

/** The plan a user gets on first use when they have no subscription yet. */
export const DEFAULT_PLAN_ID = 'free';

export type QuotaErrorCode = 'QUOTA_EXCEEDED' | 'UNKNOWN_RESOURCE' | 'INVALID_QUANTITY' | 'UNKNOWN_PLAN';

/** A business refusal of the quota service; the API maps QUOTA_EXCEEDED to 429. */
export class QuotaError extends DomainError {
  declare readonly code: QuotaErrorCode;

  constructor(code: QuotaErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(code, message, details);
    this.name = 'QuotaError';
  }
}

export interface RecordUsageInput {
  userId: string;
  resource: string;
  quantity: number;
  idempotencyKey: string;
  /** When the use happened; picks the period. Defaults to now. */
  at?: Date;
}

export interface RecordUsageResult {
  resource: string;
  used: number;
  limit: number;
  overLimit: boolean;
  period: string;
  enforcement: Enforcement;
  /**
   * Thresholds crossed by this event that the caller still has to notify (then markNotified). A
   * first call lists the crossings it recorded; a replay lists them again only while they were
   * never marked notified (the first caller stopped before it could), else nothing.
   */
  crossed: Threshold[];
  /** True when the key had been recorded before and nothing was counted now. */
  replayed: boolean;
}

export interface ReleaseUsageInput {
  userId: string;
  idempotencyKey: string;
}

export interface ReleaseUsageResult {
  /** False when the event does not exist or had been released already. */
  released: boolean;
  resource?: string;
  period?: string;
  quantity?: number;
  used?: number;
}

export interface ResourceQuota {
  resource: string;
  used: number;
  limit: number;
  enforcement: Enforcement;
  overLimit: boolean;
}

/** How much stock a customer may hold in unpaid orders at once: their plan's (docs/design.md "Holding limits"). */
export type { HoldingLimits } from '../../lib/holding-limits';

export interface QuotaSummary {
  userId: string;
  plan: string;
  period: string;
  resources: ResourceQuota[];
}

/** The UTC calendar month of `at`, as 'YYYY-MM'. */
export function periodOf(at: Date): string {
  return `${at.getUTCFullYear()}-${String(at.getUTCMonth() + 1).padStart(2, '0')}`;
}

type Tx = Prisma.TransactionClient;

/** What an event's first call answered, kept on the event for its replays. */
type StoredOutcome = Pick<RecordUsageResult, 'used' | 'limit' | 'overLimit' | 'enforcement' | 'crossed'>;

export class QuotaService {
  constructor(private readonly db: QuotaDb) {}

  async recordUsage(input: RecordUsageInput): Promise<RecordUsageResult> {
    const { userId, resource, quantity, idempotencyKey } = input;
    if (!Number.isInteger(quantity) || quantity <= 0) {
      throw new QuotaError('INVALID_QUANTITY', `quantity must be a positive integer, got ${quantity}`);
    }
    const period = periodOf(input.at ?? new Date());

    return this.db.$transaction(async (tx) => {
      const planId = await this.ensureSubscription(tx, userId);
      const planLimit = await this.limitOf(tx, planId, resource);
      const limit = planLimit.limitPerPeriod;
      const enforcement = planLimit.enforcement;

      // Why a row lock rather than only `UPDATE ... WHERE used + q <= limit`: the usage row is
      // the one place all uses of (user, resource, period) meet, and holding its lock for the
      // rest of this short transaction serializes them. Under that lock the hard-limit check,
      // the idempotency-key insert and the threshold bookkeeping see each other's committed
      // effects, so neither a hard limit nor a key can be consumed twice, and soft limits
      // (which must record past the limit) share the same path. Contention is per user and
      // resource, which is low. releaseUsage takes the same lock first, in the same order
      // (usage row, then event), so the two cannot deadlock.
      await tx.$executeRaw`
        INSERT INTO "usage" (user_id, resource, period, used) VALUES (${userId}, ${resource}, ${period}, 0)
        ON CONFLICT (user_id, resource, period) DO NOTHING`;
      const [locked] = await tx.$queryRaw<{ used: number }[]>`
        SELECT used FROM "usage" WHERE user_id = ${userId} AND resource = ${resource} AND period = ${period}
        FOR UPDATE`;
      const usedBefore = locked?.used ?? 0;

      // One timestamp for the event and the crossings it records: a replay finds them by it.
      const recordedAt = new Date();
      const inserted = await tx.$executeRaw`
        INSERT INTO usage_events (user_id, idempotency_key, resource, period, quantity, created_at)
        VALUES (${userId}, ${idempotencyKey}, ${resource}, ${period}, ${quantity}, ${recordedAt})
        ON CONFLICT (user_id, idempotency_key) DO NOTHING`;
      if (inserted === 0) return this.replay(tx, userId, idempotencyKey, planId);

      if (enforcement === 'HARD' && usedBefore + quantity > limit) {
        // Throwing rolls the event back too: a refused key was never consumed.
        throw new QuotaError(
          'QUOTA_EXCEEDED',
          `${resource} quota exceeded: ${usedBefore} of ${limit} used this period`,
          {
            resource,
            used: usedBefore,
            limit,
            period,
            requested: quantity,
          },
        );
      }

      const used = usedBefore + quantity;
      await tx.$executeRaw`
        UPDATE "usage" SET used = ${used} WHERE user_id = ${userId} AND resource = ${resource} AND period = ${period}`;

      const crossed: Threshold[] = [];
      for (const threshold of THRESHOLDS) {
        if (!reaches(used, limit, threshold)) continue;
        const fresh = await tx.$executeRaw`
          INSERT INTO threshold_crossings (user_id, resource, period, threshold, crossed_at)
          VALUES (${userId}, ${resource}, ${period}, ${threshold}, ${recordedAt})
          ON CONFLICT DO NOTHING`;
        if (fresh > 0) crossed.push(threshold);
      }

      const outcome: StoredOutcome = { used, limit, overLimit: used > limit, enforcement, crossed };
      await tx.usageEvent.update({
        where: { userId_idempotencyKey: { userId, idempotencyKey } },
        // Nothing to tell: the event is notified as it is recorded, and a replay never signals.
        data: { outcome: { ...outcome }, ...(crossed.length === 0 ? { notifiedAt: recordedAt } : {}) },
      });
      return { resource, period, ...outcome, replayed: false };
    }, ROW_LOCK_QUEUE_TRANSACTION);
  }

  /** The event's crossings reached the user's notification workflow: replays of its key signal nothing. */
  async markNotified(userId: string, idempotencyKey: string): Promise<void> {
    await this.db.usageEvent.updateMany({
      where: { userId, idempotencyKey, notifiedAt: null },
      data: { notifiedAt: new Date() },
    });
  }

  /** Gives the units of an event back (a saga compensation). Idempotent; a no-op for unknown keys. */
  async releaseUsage(input: ReleaseUsageInput): Promise<ReleaseUsageResult> {
    const { userId, idempotencyKey } = input;
    return this.db.$transaction(async (tx) => {
      const event = await tx.usageEvent.findUnique({ where: { userId_idempotencyKey: { userId, idempotencyKey } } });
      if (!event || event.releasedAt) return { released: false };
      const { resource, period } = event;

      // Same lock order as recordUsage: the usage row first, then the event.
      const [locked] = await tx.$queryRaw<{ used: number }[]>`
        SELECT used FROM "usage" WHERE user_id = ${userId} AND resource = ${resource} AND period = ${period}
        FOR UPDATE`;
      const marked = await tx.$executeRaw`
        UPDATE usage_events SET released_at = now()
        WHERE user_id = ${userId} AND idempotency_key = ${idempotencyKey} AND released_at IS NULL`;
      if (marked === 0) return { released: false };

      const used = Math.max((locked?.used ?? 0) - event.quantity, 0);
      await tx.$executeRaw`
        UPDATE "usage" SET used = ${used} WHERE user_id = ${userId} AND resource = ${resource} AND period = ${period}`;
      return { released: true, resource, period, quantity: event.quantity, used };
    }, ROW_LOCK_QUEUE_TRANSACTION);
  }

  /** The user's plan and, for each resource of it, the use in the period of `at` (default now). */
  async getQuota(userId: string, at: Date = new Date()): Promise<QuotaSummary> {
    const period = periodOf(at);
    const subscription = await this.db.subscription.findUnique({ where: { userId } });
    const plan = subscription?.planId ?? DEFAULT_PLAN_ID;
    const [limits, usage] = await Promise.all([
      this.db.planLimit.findMany({ where: { planId: plan }, orderBy: { resource: 'asc' } }),
      this.db.usage.findMany({ where: { userId, period } }),
    ]);
    const usedBy = new Map(usage.map((u) => [u.resource, u.used]));
    return {
      userId,
      plan,
      period,
      resources: limits.map((l) => {
        const used = usedBy.get(l.resource) ?? 0;
        return {
          resource: l.resource,
          used,
          limit: l.limitPerPeriod,
          enforcement: l.enforcement,
          overLimit: used > l.limitPerPeriod,
        };
      }),
    };
  }

  /**
   * The holding limits of the user's plan (`free` for a user with no subscription yet), read
   * without writing. A plan without limits is a misconfiguration, not a user's error: it throws.
   */
  async holdingLimitsOf(userId: string): Promise<HoldingLimits> {
    const subscription = await this.db.subscription.findUnique({ where: { userId } });
    const plan = subscription?.planId ?? DEFAULT_PLAN_ID;
    const limits = await this.db.planHoldingLimits.findUnique({ where: { planId: plan } });
    if (!limits) throw new Error(`plan ${plan} has no holding limits (plan_holding_limits)`);
    const { maxUnpaidOrders, maxHeldUnitsPerProduct, maxStockSharePercent } = limits;
    return { plan, maxUnpaidOrders, maxHeldUnitsPerProduct, maxStockSharePercent };
  }

  /** Usage given back by a compensation (an order that did not go through returns its unit). */
  async countReleasedUsage(): Promise<number> {
    return this.db.usageEvent.count({ where: { releasedAt: { not: null } } });
  }

  /** Puts the user on `planId` (the dev-token endpoint's `plan`); usage already recorded stays. */
  async setPlan(userId: string, planId: string): Promise<void> {
    const plan = await this.db.plan.findUnique({ where: { id: planId } });
    if (!plan) throw new QuotaError('UNKNOWN_PLAN', `There is no plan "${planId}"`, { planId });
    await this.db.subscription.upsert({ where: { userId }, create: { userId, planId }, update: { planId } });
  }

  private async ensureSubscription(tx: Tx, userId: string): Promise<string> {
    await tx.$executeRaw`
      INSERT INTO subscriptions (user_id, plan_id) VALUES (${userId}, ${DEFAULT_PLAN_ID})
      ON CONFLICT (user_id) DO NOTHING`;
    const subscription = await tx.subscription.findUniqueOrThrow({ where: { userId } });
    return subscription.planId;
  }

  private async limitOf(tx: Tx, planId: string, resource: string) {
    const planLimit = await tx.planLimit.findUnique({ where: { planId_resource: { planId, resource } } });
    if (!planLimit) {
      throw new QuotaError('UNKNOWN_RESOURCE', `plan ${planId} has no quota for "${resource}"`, { planId, resource });
    }
    return planLimit;
  }

  /**
   * The outcome of an event recorded before: what its first call answered. Its crossings are
   * listed only while they were never notified, and never once the event was released.
   * Events recorded before outcomes were stored replay with the period's current standing.
   */
  private async replay(tx: Tx, userId: string, idempotencyKey: string, planId: string): Promise<RecordUsageResult> {
    const event = await tx.usageEvent.findUniqueOrThrow({
      where: { userId_idempotencyKey: { userId, idempotencyKey } },
    });
    const { resource, period } = event;
    const stored = event.outcome as StoredOutcome | null;
    if (stored) {
      const crossed = event.releasedAt || event.notifiedAt ? [] : stored.crossed;
      return { resource, period, ...stored, crossed, replayed: true };
    }
    const { limitPerPeriod: limit, enforcement } = await this.limitOf(tx, planId, resource);
    const usage = await tx.usage.findUnique({ where: { userId_resource_period: { userId, resource, period } } });
    const used = usage?.used ?? 0;
    // A released event needs no notification any more.
    const crossings = event.releasedAt
      ? []
      : await tx.thresholdCrossing.findMany({
          where: { userId, resource, period, crossedAt: { gte: event.createdAt } },
          orderBy: { threshold: 'asc' },
        });
    const crossed = crossings.map((c) => c.threshold).filter(isThreshold);
    return { resource, used, limit, overLimit: used > limit, period, enforcement, crossed, replayed: true };
  }
}

function reaches(used: number, limit: number, threshold: Threshold): boolean {
  // Integer arithmetic: 16 of 20 is exactly 80 %.
  return limit > 0 && used * 100 >= limit * threshold;
}

function isThreshold(value: number): value is Threshold {
  return (THRESHOLDS as readonly number[]).includes(value);
}
