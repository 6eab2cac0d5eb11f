/**
 * Usage quotas: record usage (POST /v1/usage) and read the plan's standing (GET /v1/quota).
 *
 * POST /v1/usage runs `recordUsageAndNotify` (activities/usage-recording.ts) in the request, not a
 * workflow: the caller needs the outcome now (used, limit, overLimit or 429), and the work is
 * one local transaction plus a signal, which needs no durable orchestration. The quota activity
 * runs the same function, so there is one definition of "record, then signal each crossed
 * threshold to the user's notification workflow (signal-with-start, dedupe key per resource,
 * period and threshold)". What the activity gets from Temporal's retries, this route gets from
 * the client's idempotency key: a replay answers what the first call answered and signals
 * nothing, unless the first call failed before its crossings were signalled (e.g. 503 because
 * Temporal was unreachable after the usage was recorded): then the replay signals them. The
 * dedupe key makes a double signal one notification, so each threshold is told once per period.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ServiceError } from '@temporalio/client';
import { Type } from 'typebox';
import { DomainError } from '../../lib/errors';
import type { NotificationSignaller } from '../../temporal/notification-signal';
import { orderQuotaKey, recordUsageAndNotify } from '../../activities/usage-recording';
import type { QuotaService, RecordUsageResult } from '../../services/quota/quota.service';
import { errors, Timestamp } from '../schemas';

export interface UsageRoutesOptions {
  quota: QuotaService;
  /** Signals the user's notification workflow (a Temporal Client); without it recording answers 503. */
  notifier?: NotificationSignaller;
}

const Resource = Type.String({
  pattern: '^[a-z][a-z0-9_-]{0,31}$',
  description: 'A resource of the plan, e.g. `builds`',
});
const Enforcement = Type.Union([Type.Literal('SOFT'), Type.Literal('HARD')], {
  description: 'SOFT: use past the limit is recorded and reported (`overLimit`); HARD: refused with 429 QUOTA_EXCEEDED',
});
const Period = Type.String({ pattern: '^\\d{4}-\\d{2}$', description: 'The UTC calendar month, YYYY-MM' });

const UsageBody = Type.Object(
  {
    resource: Resource,
    quantity: Type.Integer({ minimum: 1, maximum: 10_000 }),
    idempotencyKey: Type.String({
      minLength: 1,
      maxLength: 255,
      pattern: '^[\\x21-\\x7e]+$',
      description: 'Counts once per user, however often it is sent; a replay answers what the first call answered',
    }),
  },
  { additionalProperties: false },
);
const UsageResult = Type.Object({
  resource: Type.String(),
  used: Type.Integer({ minimum: 0 }),
  limit: Type.Integer({ minimum: 0 }),
  overLimit: Type.Boolean(),
  period: Period,
  enforcement: Enforcement,
  /** True when the key had been recorded before: nothing was counted now. */
  replayed: Type.Boolean(),
});
const ResourceQuota = Type.Object({
  resource: Type.String(),
  used: Type.Integer({ minimum: 0 }),
  limit: Type.Integer({ minimum: 0 }),
  enforcement: Enforcement,
  overLimit: Type.Boolean(),
});
const Quota = Type.Object({
  plan: Type.String(),
  period: Period,
  /** When the period ends and usage starts again from zero. */
  resetsAt: Timestamp,
  resources: Type.Array(ResourceQuota),
});

/** The checkout counts orders with keys of this form; a client may not take them. */
const RESERVED_KEY_PREFIX = orderQuotaKey('');

export const usageRoutes: FastifyPluginAsyncTypebox<UsageRoutesOptions> = async (app, options) => {
  const { quota, notifier } = options;

  app.post(
    '/v1/usage',
    {
      preHandler: app.authenticate,
      schema: {
        operationId: 'recordUsage',
        summary: 'Record usage of a resource',
        tags: ['usage'],
        description:
          'Records usage of a resource once per idempotency key. Crossing 80 % or 100 % of the limit notifies the user once per period. ' +
          'A HARD limit refuses with 429 QUOTA_EXCEEDED; a SOFT one records past it and answers `overLimit: true`.',
        body: UsageBody,
        response: { 200: UsageResult, ...errors(400, 401, 429, 503) },
      },
    },
    async (request) => {
      const { resource, quantity, idempotencyKey } = request.body;
      if (idempotencyKey.startsWith(RESERVED_KEY_PREFIX)) {
        throw new DomainError(
          'VALIDATION_FAILED',
          `body.idempotencyKey must not start with "${RESERVED_KEY_PREFIX}": those keys belong to checkouts`,
        );
      }
      if (!notifier)
        throw new DomainError('TEMPORAL_UNAVAILABLE', 'Usage cannot be recorded: this instance has no Temporal client');
      let outcome: RecordUsageResult;
      try {
        outcome = await recordUsageAndNotify(
          { quota, temporal: notifier },
          { userId: request.user.sub, resource, quantity, idempotencyKey },
        );
      } catch (error) {
        if (error instanceof DomainError && error.code === 'QUOTA_EXCEEDED')
          app.metrics.quotaRejections.inc({ resource });
        // A Temporal call that failed after the usage was recorded is 503: the client retries with the same key and loses nothing.
        if (error instanceof ServiceError)
          throw new DomainError(
            'TEMPORAL_UNAVAILABLE',
            'Usage was recorded but its notification could not be sent; retry with the same idempotencyKey',
          );
        throw error;
      }
      const { used, limit, overLimit, period, enforcement, replayed } = outcome;
      return { resource: outcome.resource, used, limit, overLimit, period, enforcement, replayed };
    },
  );

  app.get(
    '/v1/quota',
    {
      preHandler: app.authenticate,
      schema: {
        operationId: 'getQuota',
        summary: "Read the user's plan and usage",
        tags: ['usage'],
        description: "The user's plan and, for each of its resources, this period's use and limit.",
        response: { 200: Quota, ...errors(401) },
      },
    },
    async (request) => {
      const summary = await quota.getQuota(request.user.sub);
      return {
        plan: summary.plan,
        period: summary.period,
        resetsAt: periodEnd(summary.period).toISOString(),
        resources: summary.resources,
      };
    },
  );
};

/** The first moment of the month after `period` (UTC). */
function periodEnd(period: string): Date {
  const [year, month] = period.split('-').map(Number) as [number, number];
  return new Date(Date.UTC(year, month, 1));
}
