/** Usage quotas: atomic check-and-consume per user, resource and monthly period, idempotent by key. */
import { DomainError } from '../../lib/errors';
import { inSqlTransaction } from '../../lib/db/sql-transaction';
import {
  COUNT_USE,
  RECORD_EVENT,
  RELEASE_EVENT,
  type CountUseRow,
  type RecordEventRow,
  type ReleaseEventRow,
} from './usage-steps.sql';
import type { QuotaDb } from './db';
import type { HoldingLimits } from '../../lib/holding-limits';

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

/** A recording's transaction: kept with the new event's answer, or rolled back before replaying the key's earlier event. */
type Recording = { kept: true; result: RecordUsageResult } | { kept: false; earlier: RecordEventRow; planId: string };

/** What an event's first call answered, kept on the event for its replays. */
type StoredOutcome = Pick<RecordUsageResult, 'used' | 'limit' | 'overLimit' | 'enforcement' | 'crossed'>;

export class QuotaService {
  constructor(private readonly db: QuotaDb) {}

  /**
   * Counts the use against the user's plan, once per idempotency key: a replayed key answers its
   * first outcome. Two statements in one transaction on the service's pool (services/quota/usage-steps.sql.ts
   * says why the usage row's lock comes first): the rule (the hard limit, the thresholds) is decided
   * here between them, and what a refused use or a replay wrote on the way is rolled back.
   *
   * Why the usage row's lock rather than only `UPDATE ... WHERE used + q <= limit`: the row is the
   * one place all uses of (user, resource, period) meet, and holding its lock for this short
   * transaction serializes them. Under it the hard-limit check, the key and the thresholds see each
   * other's committed effects, so neither a hard limit nor a key can be consumed twice, and soft
   * limits (which must record past the limit) share the same path. Contention is per user and
   * resource, which is low.
   */
  async recordUsage(input: RecordUsageInput): Promise<RecordUsageResult> {
    const { userId, resource, quantity, idempotencyKey } = input;
    if (!Number.isInteger(quantity) || quantity <= 0) {
      throw new QuotaError('INVALID_QUANTITY', `quantity must be a positive integer, got ${quantity}`);
    }
    const period = periodOf(input.at ?? new Date());

    const answer = await inSqlTransaction(
      this.db.sql,
      async (client): Promise<Recording> => {
        const { rows } = await client.query<CountUseRow>(COUNT_USE, [
          userId,
          resource,
          period,
          DEFAULT_PLAN_ID,
          quantity,
        ]);
        const { plan_id: planId, limit_per_period: limit, enforcement, used } = rows[0]!;
        if (limit === null || enforcement === null || used === null) {
          throw new QuotaError('UNKNOWN_RESOURCE', `plan ${planId} has no quota for "${resource}"`, {
            planId,
            resource,
          });
        }
        const allowed = enforcement === 'SOFT' || used <= limit;
        // One timestamp for the event and the crossings it records: a replay finds them by it.
        const recordedAt = new Date();
        const [event] = (
          await client.query<RecordEventRow>(RECORD_EVENT, [
            userId,
            idempotencyKey,
            resource,
            period,
            quantity,
            recordedAt,
            allowed,
            THRESHOLDS.filter((threshold) => reaches(used, limit, threshold)),
            { used, limit, overLimit: used > limit, enforcement },
          ])
        ).rows;
        if (event!.recorded) {
          const outcome = event!.recorded as StoredOutcome;
          return { kept: true, result: { resource, period, ...outcome, replayed: false } };
        }
        if (event!.resource !== null) return { kept: false, earlier: event!, planId };
        if (!allowed) {
          const usedBefore = used - quantity;
          // Throwing rolls the count back too: a refused key was never consumed.
          throw new QuotaError(
            'QUOTA_EXCEEDED',
            `${resource} quota exceeded: ${usedBefore} of ${limit} used this period`,
            { resource, used: usedBefore, limit, period, requested: quantity },
          );
        }
        // The key's event is neither new nor visible: one recorded meanwhile under another period or
        // resource. Not a business answer: a plain error, retried.
        throw new Error(`The usage event ${idempotencyKey} was neither recorded nor found`);
      },
      (answer) => answer.kept,
    );
    if (answer.kept) return answer.result;
    return this.replay(answer.earlier, userId, idempotencyKey, answer.planId);
  }

  /** The event's crossings reached the user's notification workflow: replays of its key signal nothing. */
  async markNotified(userId: string, idempotencyKey: string): Promise<void> {
    await this.db.usageEvent.updateMany({
      where: { userId, idempotencyKey, notifiedAt: null },
      data: { notifiedAt: new Date() },
    });
  }

  /** Gives the units of an event back (a saga compensation). Idempotent; a no-op for unknown keys. One statement (RELEASE_EVENT). */
  async releaseUsage(input: ReleaseUsageInput): Promise<ReleaseUsageResult> {
    const { rows } = await this.db.sql.query<ReleaseEventRow>(RELEASE_EVENT, [input.userId, input.idempotencyKey]);
    const [given] = rows;
    if (!given) return { released: false };
    const { resource, period, quantity, used } = given;
    return { released: true, resource, period, quantity, used };
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

  /**
   * The outcome of an event recorded before: what its first call answered. Its crossings are
   * listed only while they were never notified, and never once the event was released.
   * Events recorded before outcomes were stored replay with the period's current standing.
   */
  private async replay(
    event: RecordEventRow,
    userId: string,
    idempotencyKey: string,
    planId: string,
  ): Promise<RecordUsageResult> {
    const resource = event.resource!;
    const period = event.period!;
    const stored = event.outcome as StoredOutcome | null;
    if (stored) {
      const crossed = event.released_at || event.notified_at ? [] : stored.crossed;
      return { resource, period, ...stored, crossed, replayed: true };
    }
    const planLimit = await this.db.planLimit.findUnique({ where: { planId_resource: { planId, resource } } });
    if (!planLimit) {
      throw new QuotaError('UNKNOWN_RESOURCE', `plan ${planId} has no quota for "${resource}"`, { planId, resource });
    }
    const { limitPerPeriod: limit, enforcement } = planLimit;
    const usage = await this.db.usage.findUnique({ where: { userId_resource_period: { userId, resource, period } } });
    const used = usage?.used ?? 0;
    const { createdAt } = await this.db.usageEvent.findUniqueOrThrow({
      where: { userId_idempotencyKey: { userId, idempotencyKey } },
    });
    // A released event needs no notification any more.
    const crossings = event.released_at
      ? []
      : await this.db.thresholdCrossing.findMany({
          where: { userId, resource, period, crossedAt: { gte: createdAt } },
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
