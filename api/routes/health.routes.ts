/** Liveness (/healthz: the process answers) and readiness (/readyz: every database and Temporal answer). */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
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
}

const HealthReport = Type.Object({ status: Type.Literal('ok') });
const ReadinessReport = Type.Object({
  status: Type.Union([Type.Literal('ok'), Type.Literal('unavailable')]),
  /** Each probe's name and whether it answered. */
  checks: Type.Record(Type.String(), Type.Union([Type.Literal('up'), Type.Literal('down')])),
  /** The names of the probes that are down, so an operator sees at once what to look at. */
  down: Type.Array(Type.String()),
});

export const healthRoutes: FastifyPluginAsyncTypebox<HealthRoutesOptions> = async (app, { probes, probeTimeoutMs }) => {
  app.get('/healthz', { schema: { tags: ['health'], response: { 200: HealthReport } } }, async () => ({ status: 'ok' as const }));

  app.get('/readyz', { schema: { tags: ['health'], response: { 200: ReadinessReport, 503: ReadinessReport } } }, async (request, reply) => {
    const results = await Promise.all(
      probes.map(async (probe) => {
        try {
          await withTimeout(probe.check(), probeTimeoutMs);
          return [probe.name, 'up'] as const;
        } catch (error) {
          request.log.warn({ probe: probe.name, err: error }, 'readiness probe failed');
          return [probe.name, 'down'] as const;
        }
      }),
    );
    const down = results.filter(([, state]) => state === 'down').map(([name]) => name);
    return reply
      .code(down.length === 0 ? 200 : 503)
      .send({ status: down.length === 0 ? 'ok' : 'unavailable', checks: Object.fromEntries(results), down });
  });
};

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms}ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
