/**
 * A cheap fingerprint of every row of every service database: one query per database over
 * persistent connections, so the fuzz tier can prove "this 4xx changed nothing" for each of
 * thousands of requests (a full snapshot per request would take minutes). Per table it takes the
 * row count and the newest row version (`xmin`, the inserting or updating transaction): an insert
 * or an update raises the newest version, a delete lowers the count, so no write goes unseen.
 */
import { Client } from 'pg';
import { SERVICES, type ServiceName } from '../../lib/service-names';

export interface DatabaseFingerprint {
  /** Per `service.table`: row count and newest row version. */
  take(): Promise<Record<string, string>>;
  close(): Promise<void>;
}

export async function openFingerprint(urls: Record<ServiceName, string>): Promise<DatabaseFingerprint> {
  const clients = await Promise.all(
    SERVICES.map(async (service) => {
      const client = new Client({ connectionString: urls[service] });
      await client.connect();
      const { rows } = await client.query<{ table_name: string }>(
        `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' AND table_name <> '_prisma_migrations' ORDER BY 1`,
      );
      const sql = `SELECT ${rows
        .map(
          ({ table_name: t }) =>
            `(SELECT count(*) || ':' || coalesce(max(r.xmin::text::bigint), 0) FROM "${t}" r) AS "${t}"`,
        )
        .join(', ')}`;
      return { service, client, sql };
    }),
  );
  return {
    async take() {
      const parts = await Promise.all(
        clients.map(async ({ service, client, sql }) => ({
          service,
          row: (await client.query<Record<string, string>>(sql)).rows[0]!,
        })),
      );
      return Object.fromEntries(
        parts.flatMap(({ service, row }) =>
          Object.entries(row).map(([table, value]) => [`${service}.${table}`, value]),
        ),
      );
    },
    async close() {
      await Promise.all(clients.map(({ client }) => client.end()));
    },
  };
}
