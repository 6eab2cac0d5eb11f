/**
 * Races decided by row locks, made to happen on purpose: another connection writes and holds its
 * transaction open, the step under test starts (its statement's snapshot still shows the row as it
 * was) and waits for the row's lock, then the write commits and the step answers. No sleeps: the
 * commit waits until PostgreSQL shows a backend waiting for a lock.
 */
import { Client } from 'pg';

export async function behindAnUncommittedWrite<T>(
  databaseUrl: string,
  write: (writer: Client) => Promise<unknown>,
  step: () => Promise<T>,
): Promise<T> {
  const writer = new Client({ connectionString: databaseUrl });
  await writer.connect();
  try {
    await writer.query('BEGIN');
    await write(writer);
    const stepping = step();
    while (!(await waitingForALock(writer))) {
      // the step has not reached the locked row yet
    }
    await writer.query('COMMIT');
    return await stepping;
  } finally {
    await writer.end();
  }
}

async function waitingForALock(client: Client): Promise<boolean> {
  const { rows } = await client.query<{ waiting: boolean }>(
    `SELECT EXISTS (SELECT FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock') AS waiting`,
  );
  return rows[0]!.waiting;
}
