/**
 * Liveness (/healthz: the process answers) and readiness (/readyz: every database and Temporal
 * answer). /readyz is unauthenticated, so it must be cheap whoever calls it: probes use the pools
 * the API already has, and one result serves every caller for `cacheMs` (concurrent callers share
 * the check in flight), so a flood of /readyz costs at most one round of probes per second.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyBaseLogger } from 'fastify';
import { Type } from 'typebox';

/** One dependency /readyz checks: `check` resolves when it is reachable and throws when it is not. */
export interface ReadinessProbe {
  name: string;
  check(): Promise<void>;
}

export interface HealthRoutesOptions {
  probes: ReadinessProbe[];
  /** How long one probe may take before it counts as down. */
  probeTimeoutMs: number;
  /** How long one readiness result is served to every caller (default 1 s; 0 checks on every call). */
  cacheMs?: number;
  /** The clock, for tests. */
  now?: () => number;
}

type ReadinessResult = { status: 'ok' | 'unavailable'; checks: Record<string, 'up' | 'down'>; down: string[] };

export const DEFAULT_READINESS_CACHE_MS = 1_000;

const HealthReport = Type.Object({ status: Type.Literal('ok') });
const ReadinessReport = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('unavailable')]),
  /** Each probe's name and whether it answered. */
  checks: Type.Record(Type.String(), Type.Union([Type.Literal('up'), Type.Literal('down')])),
  /** The names of the probes that are down, so an operator sees at once what to look at. */
  down: Type.Array(Type.String()),
});

export const healthRoutes: FastifyPluginAsyncTypebox<HealthRoutesOptions> = async (app, options) => {
  const { probes, probeTimeoutMs } = options;
  const cacheMs = options.cacheMs ?? DEFAULT_READINESS_CACHE_MS;
  const now = options.now ?? Date.now;
  let cached: { at: number; result: Promise<ReadinessResult> } | undefined;

  async function checkAll(log: FastifyBaseLogger): Promise<ReadinessResult> {
    const results = await Promise.all(
      probes.map(async (probe) => {
        try {
          await withTimeout(probe.check(), probeTimeoutMs);
          return [probe.name, 'up'] as const;
        } catch (error) {
          log.warn({ probe: probe.name, err: error }, 'readiness probe failed');
          return [probe.name, 'down'] as const;
        }
      }),
    );
    const down = results.filter(([, state]) => state === 'down').map(([name]) => name);
    return { status: down.length === 0 ? 'ok' : 'unavailable', checks: Object.fromEntries(results), down };
  }

  app.get(
    '/healthz',
    {
      schema: {
        operationId: 'getHealth',
        summary: 'Liveness',
        description: 'Answers 200 while the process runs. It checks nothing else: use /readyz for a load balancer.',
        tags: ['health'],
        response: { 200: HealthReport },
      },
    },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        operationId: 'getReadiness',
        summary: 'Readiness',
        description: 'Whether the service databases and Temporal answer; 503 lists what is down.',
        tags: ['health'],
        response: { 200: ReadinessReport, 503: ReadinessReport },
      },
    },
    async (request, reply) => {
      // The check in flight counts as fresh from when it started: callers during it share it.
      if (!cached || now() - cached.at >= cacheMs) cached = { at: now(), result: checkAll(request.log) };
      const result = await cached.result;
      return reply.code(result.status === 'ok' ? 200 : 503).send(result);
    },
  );
};

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms}ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
