/**
 * The node-postgres pool behind each service's Prisma client, sized and bounded from the settings
 * (DB_POOL_MAX, DB_CONNECTION_TIMEOUT_MS, DB_STATEMENT_TIMEOUT_MS; docs/configuration.md has the
 * connection budget per process they make).
 */
import type { PoolConfig } from 'pg';

export interface DatabasePoolSettings {
  /** Connections one service's pool may open (a process opens one pool per service it serves). */
  max: number;
  /** How long a query waits for a free connection before it fails, instead of queueing forever. */
  connectionTimeoutMs: number;
  /** PostgreSQL's statement_timeout on every connection: a runaway query is cancelled, its connection freed. */
  statementTimeoutMs: number;
}

export const DEFAULT_DATABASE_POOL: DatabasePoolSettings = {
  max: 10,
  // Above the 10 s an interactive transaction may wait for its connection (lib/db/transaction-options.ts),
  // so a queue of orders on one product's row is governed by that limit, not cut short by the pool.
  connectionTimeoutMs: 15_000,
  statementTimeoutMs: 30_000,
};

/** The pool configuration of one service's database. */
export function poolConfig(url: string, pool: DatabasePoolSettings = DEFAULT_DATABASE_POOL): PoolConfig {
  return {
    connectionString: url,
    max: pool.max,
    connectionTimeoutMillis: pool.connectionTimeoutMs,
    statement_timeout: pool.statementTimeoutMs,
  };
}
