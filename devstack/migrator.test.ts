import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { createEmptyTestDatabase } from '../test/helpers/databases';
import { checksumOf, migrateDatabase, migrationsDirFor, readMigrations } from './migrator';

interface MigrationRow {
  id: string;
  checksum: string;
  migration_name: string;
  started_at: Date;
  finished_at: Date | null;
  rolled_back_at: Date | null;
  logs: string | null;
  applied_steps_count: number;
}

const disposers: Array<() => Promise<void>> = [];
afterAll(async () => {
  // Each DROP DATABASE waits for a checkpoint: drop in parallel, and give it time.
  await Promise.all(disposers.map((dispose) => dispose()));
}, 60_000);

async function emptyDatabase(): Promise<string> {
  const db = await createEmptyTestDatabase('migrator');
  disposers.push(db.dispose);
  return db.url;
}

async function query<T extends object>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

const recorded = (url: string) =>
  query<MigrationRow>(url, 'SELECT * FROM "_prisma_migrations" ORDER BY started_at, migration_name');

const tableExists = async (url: string, table: string) =>
  (await query<{ found: string | null }>(url, 'SELECT to_regclass($1)::text AS found', [table]))[0]?.found != null;

/** A throwaway migrations folder for the synthetic cases. */
function migrationsFolder(migrations: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'migrations-'));
  disposers.push(async () => rmSync(dir, { recursive: true, force: true }));
  for (const [name, sql] of Object.entries(migrations)) writeMigration(dir, name, sql);
  return dir;
}

function writeMigration(dir: string, name: string, sql: string): void {
  mkdirSync(path.join(dir, name), { recursive: true });
  writeFileSync(path.join(dir, name, 'migration.sql'), sql);
}

describe('migrateDatabase', () => {
  it('applies a fresh database and records each migration as Prisma Migrate does', async () => {
    const url = await emptyDatabase();
    const before = new Date();
    const result = await migrateDatabase(url, 'quota');
    const after = new Date();

    const local = readMigrations(migrationsDirFor('quota'));
    expect(local.length).toBeGreaterThan(0);
    expect(result).toEqual({ applied: local.map((m) => m.name), alreadyApplied: [] });

    const rows = await recorded(url);
    expect(rows.map((row) => row.migration_name)).toEqual(local.map((m) => m.name));
    for (const [index, row] of rows.entries()) {
      const file = path.join(migrationsDirFor('quota'), row.migration_name, 'migration.sql');
      expect(row.checksum).toBe(checksumOf(readFileSync(file)));
      expect(row.checksum).toMatch(/^[0-9a-f]{64}$/);
      expect(row.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(row.applied_steps_count).toBe(1);
      expect(row.logs).toBeNull();
      expect(row.rolled_back_at).toBeNull();
      expect(row.finished_at).not.toBeNull();
      expect(row.started_at.getTime()).toBeGreaterThanOrEqual(before.getTime() - 1000);
      expect(row.finished_at!.getTime()).toBeGreaterThanOrEqual(row.started_at.getTime());
      expect(row.finished_at!.getTime()).toBeLessThanOrEqual(after.getTime() + 1000);
      expect(local[index]?.checksum).toBe(row.checksum);
    }
    expect(await tableExists(url, 'plan_limits')).toBe(true);
  });

  it('records the table with the column types of Prisma Migrate', async () => {
    const url = await emptyDatabase();
    await migrateDatabase(url, 'cart');
    const columns = await query<{ column_name: string; data_type: string; is_nullable: string; len: number | null }>(
      url,
      `SELECT column_name, data_type, is_nullable, character_maximum_length AS len
         FROM information_schema.columns WHERE table_name = '_prisma_migrations' ORDER BY ordinal_position`,
    );
    expect(columns).toEqual([
      { column_name: 'id', data_type: 'character varying', is_nullable: 'NO', len: 36 },
      { column_name: 'checksum', data_type: 'character varying', is_nullable: 'NO', len: 64 },
      { column_name: 'finished_at', data_type: 'timestamp with time zone', is_nullable: 'YES', len: null },
      { column_name: 'migration_name', data_type: 'character varying', is_nullable: 'NO', len: 255 },
      { column_name: 'logs', data_type: 'text', is_nullable: 'YES', len: null },
      { column_name: 'rolled_back_at', data_type: 'timestamp with time zone', is_nullable: 'YES', len: null },
      { column_name: 'started_at', data_type: 'timestamp with time zone', is_nullable: 'NO', len: null },
      { column_name: 'applied_steps_count', data_type: 'integer', is_nullable: 'NO', len: null },
    ]);
  });

  it('applies nothing the second time', async () => {
    const url = await emptyDatabase();
    const first = await migrateDatabase(url, 'inventory');
    const rowsBefore = await recorded(url);
    const second = await migrateDatabase(url, 'inventory');
    expect(second).toEqual({ applied: [], alreadyApplied: first.applied });
    expect(await recorded(url)).toEqual(rowsBefore);
  });

  it('applies only the new migrations, in name order', async () => {
    const url = await emptyDatabase();
    const dir = migrationsFolder({ '20260101000000_first': 'CREATE TABLE "a" ("id" INTEGER);' });
    expect((await migrateDatabase(url, 'cart', { migrationsDir: dir })).applied).toEqual(['20260101000000_first']);
    writeMigration(dir, '20260301000000_third', 'ALTER TABLE "b" ADD COLUMN "y" INTEGER;');
    writeMigration(dir, '20260201000000_second', 'CREATE TABLE "b" ("id" INTEGER);');
    const result = await migrateDatabase(url, 'cart', { migrationsDir: dir });
    expect(result).toEqual({
      applied: ['20260201000000_second', '20260301000000_third'],
      alreadyApplied: ['20260101000000_first'],
    });
  });

  it('refuses a migration whose file changed after it was applied, and changes nothing', async () => {
    const url = await emptyDatabase();
    const original = 'CREATE TABLE "things" ("id" INTEGER);\n';
    const dir = migrationsFolder({ '20260101000000_things': original });
    await migrateDatabase(url, 'cart', { migrationsDir: dir });
    const rowsBefore = await recorded(url);

    const edited = 'CREATE TABLE "things" ("id" BIGINT);\n';
    writeMigration(dir, '20260101000000_things', edited);
    writeMigration(dir, '20260201000000_more', 'CREATE TABLE "more" ("id" INTEGER);');

    const attempt = migrateDatabase(url, 'cart', { migrationsDir: dir });
    await expect(attempt).rejects.toThrow(/20260101000000_things .*modified after it was applied/);
    await expect(attempt).rejects.toThrow(checksumOf(original));
    await expect(attempt).rejects.toThrow(checksumOf(edited));
    expect(await recorded(url)).toEqual(rowsBefore);
    expect(await tableExists(url, 'more')).toBe(false);
  });

  it('accepts the same file with CRLF line endings', async () => {
    const url = await emptyDatabase();
    const dir = migrationsFolder({ '20260101000000_things': 'CREATE TABLE "things" (\n  "id" INTEGER\n);\n' });
    await migrateDatabase(url, 'cart', { migrationsDir: dir });
    writeMigration(dir, '20260101000000_things', 'CREATE TABLE "things" (\r\n  "id" INTEGER\r\n);\r\n');
    expect(await migrateDatabase(url, 'cart', { migrationsDir: dir })).toEqual({
      applied: [],
      alreadyApplied: ['20260101000000_things'],
    });
  });

  it('refuses to go on after a recorded migration that failed, as Prisma does', async () => {
    const url = await emptyDatabase();
    const dir = migrationsFolder({ '20260101000000_ok': 'CREATE TABLE "ok" ("id" INTEGER);' });
    await migrateDatabase(url, 'cart', { migrationsDir: dir });
    // What the engine leaves behind when a script fails half-way.
    await query(
      url,
      `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, logs, started_at, applied_steps_count)
       VALUES (gen_random_uuid()::text, $1, '20260201000000_broken', 'boom', now(), 0)`,
      [checksumOf('whatever')],
    );
    writeMigration(dir, '20260201000000_broken', 'whatever');
    writeMigration(dir, '20260301000000_next', 'CREATE TABLE "next" ("id" INTEGER);');
    await expect(migrateDatabase(url, 'cart', { migrationsDir: dir })).rejects.toThrow(
      /20260201000000_broken .*failed.*rolled-back/s,
    );
    expect(await tableExists(url, 'next')).toBe(false);

    // Once resolved as rolled back, the migration is applied again from its file.
    await query(url, `UPDATE "_prisma_migrations" SET rolled_back_at = now() WHERE finished_at IS NULL`);
    writeMigration(dir, '20260201000000_broken', 'CREATE TABLE "fixed" ("id" INTEGER);');
    expect((await migrateDatabase(url, 'cart', { migrationsDir: dir })).applied).toEqual([
      '20260201000000_broken',
      '20260301000000_next',
    ]);
  });

  it('rolls back a failing migration entirely and reports it', async () => {
    const url = await emptyDatabase();
    const dir = migrationsFolder({
      '20260101000000_ok': 'CREATE TABLE "ok" ("id" INTEGER);',
      '20260201000000_bad': 'CREATE TABLE "half" ("id" INTEGER);\nSELECT * FROM "missing_table";',
    });
    await expect(migrateDatabase(url, 'cart', { migrationsDir: dir })).rejects.toThrow(
      /20260201000000_bad .*rolled back: relation "missing_table" does not exist/,
    );
    expect((await recorded(url)).map((row) => row.migration_name)).toEqual(['20260101000000_ok']);
    expect(await tableExists(url, 'ok')).toBe(true);
    expect(await tableExists(url, 'half')).toBe(false);
  });

  it('lets two concurrent migrations of one fresh database both succeed, applying each migration once', async () => {
    const url = await emptyDatabase();
    const dir = migrationsFolder({
      // Slow enough that the two calls overlap.
      '20260101000000_slow': 'SELECT pg_sleep(0.3);\nCREATE TABLE "slow" ("id" INTEGER);',
      '20260201000000_after': 'CREATE TABLE "after" ("id" INTEGER);',
    });
    const [first, second] = await Promise.all([
      migrateDatabase(url, 'cart', { migrationsDir: dir }),
      migrateDatabase(url, 'cart', { migrationsDir: dir }),
    ]);
    const appliedBoth = [...first.applied, ...second.applied].sort();
    expect(appliedBoth).toEqual(['20260101000000_slow', '20260201000000_after']);
    expect([first.applied.length, second.applied.length].sort()).toEqual([0, 2]);
    const rows = await recorded(url);
    expect(rows.map((row) => row.migration_name)).toEqual(['20260101000000_slow', '20260201000000_after']);
  });

  it('says where the migrations folder is missing', async () => {
    const url = await emptyDatabase();
    await expect(migrateDatabase(url, 'cart', { migrationsDir: '/nonexistent/migrations' })).rejects.toThrow(
      'No migrations folder at /nonexistent/migrations',
    );
  });
});
