/**
 * A service's database handle: its Prisma client and, beside it, plain SQL on the same node-postgres
 * pool (`db.sql`). Prisma earns its place where a query is built from a request (filters, pages,
 * nested reads); a checkout step that must be one round trip (a CTE, a conditional upsert) is
 * written as SQL and run on the pool directly: a statement costs the worker about half the CPU it
 * costs through `$queryRaw`, and a transaction of two statements about a third of Prisma's
 * interactive `$transaction` (`npm run bench -- --only sql-paths`). One pool serves both, so the connection budget
 * (lib/db/pool.ts) is unchanged, and `$disconnect()` ends it.
 */
import pg from 'pg';
import { PrismaPg } from '@prisma/adapter-pg';
import { poolConfig, type DatabasePoolSettings } from './pool';

/** Plain SQL on a service's own pool: `sql.query(text, values)`, one statement per round trip. */
export type Sql = pg.Pool;

export type ServiceDb<Client> = Client & { readonly sql: Sql };

interface PrismaClientClass<Client> {
  new (options: { adapter: PrismaPg }): Client;
}

export function openServiceDb<Client extends { $disconnect(): Promise<void> }>(
  Client: PrismaClientClass<Client>,
  url: string,
  settings?: DatabasePoolSettings,
): ServiceDb<Client> {
  const sql = new pg.Pool(poolConfig(url, settings));
  // An idle connection that breaks (a database restart) must not crash the process; the next query reconnects.
  sql.on('error', () => undefined);
  const client = new Client({ adapter: new PrismaPg(sql) });
  const disconnectPrisma = client.$disconnect.bind(client);
  return Object.assign(client, {
    sql,
    async $disconnect() {
      await disconnectPrisma();
      if (!sql.ended) await sql.end();
    },
  });
}
