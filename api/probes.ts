/** The readiness probes of the running API: Temporal's health service and each service database, through the API's own pools. */
import type { Connection } from '@temporalio/client';
import { SERVICES } from '../lib/service-names';
import type { Services } from '../services';
import type { ReadinessProbe } from './routes/health.routes';

/** Temporal's health check, with a deadline so a down server's retries stop when the probe gives up. */
export function temporalProbe(connection: Connection, timeoutMs = 2_000): ReadinessProbe {
  return {
    name: 'temporal',
    check: async () =>
      void (await connection.withDeadline(Date.now() + timeoutMs, () => connection.healthService.check({}))),
  };
}

/**
 * One probe per service database, a `SELECT 1` on the pool the API serves requests with: it answers
 * "can this API reach its database now" without opening a connection per call (the old probe
 * opened six per /readyz, unauthenticated). The probe's timeout in the route bounds a hung pool.
 */
export function databaseProbes(services: Pick<Services, 'ping'>): ReadinessProbe[] {
  return SERVICES.map((service) => ({ name: `database:${service}`, check: () => services.ping(service) }));
}
