/** The readiness probes of the running API: Temporal's health service and a connection to each service database. */
import type { Connection } from '@temporalio/client';
import { Client as PgClient } from 'pg';
import type { ReadinessProbe } from './routes/health.routes';

/** Temporal's health check, with a deadline so a down server's retries stop when the probe gives up. */
export function temporalProbe(connection: Connection, timeoutMs = 2_000): ReadinessProbe {
  return {
    name: 'temporal',
    check: async () => void (await connection.withDeadline(Date.now() + timeoutMs, () => connection.healthService.check({}))),
  };
}

/** A fresh connection per check: it proves the database takes connections now, not that a pool once did. */
export function databaseProbe(service: string, url: string, timeoutMs = 2_000): ReadinessProbe {
  return {
    name: `database:${service}`,
    check: async () => {
      const client = new PgClient({ connectionString: url, connectionTimeoutMillis: timeoutMs });
      try {
        await client.connect();
        await client.query('SELECT 1');
      } finally {
        await client.end().catch(() => undefined);
      }
    },
  };
}
