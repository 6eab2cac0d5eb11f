/**
 * A transaction of plain SQL on one connection of a service's pool (lib/db/service-db.ts), for a
 * step whose decision needs a statement's answer before the next runs: BEGIN, the work, then COMMIT,
 * or ROLLBACK when the work throws. Through Prisma's `$transaction` the same two statements cost the
 * worker several times the CPU (docs/performance.md).
 */
import type pg from 'pg';
import type { Sql } from './service-db';

export async function inSqlTransaction<T>(
  sql: Sql,
  work: (client: pg.PoolClient) => Promise<T>,
  keep: (result: T) => boolean = () => true,
): Promise<T> {
  const client = await sql.connect();
  let broken: unknown;
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query(keep(result) ? 'COMMIT' : 'ROLLBACK');
    return result;
  } catch (error) {
    // A connection that failed mid-transaction may not take a ROLLBACK: it is then discarded, not pooled.
    await client.query('ROLLBACK').catch((rollbackError: unknown) => (broken = rollbackError));
    throw error;
  } finally {
    client.release(broken instanceof Error ? broken : undefined);
  }
}
