/**
 * Applies a service's SQL migrations (prisma/<service>/migrations) offline, recording them in
 * `_prisma_migrations` exactly as Prisma Migrate does, so that `prisma migrate deploy/status`
 * (where the schema engine is available) sees the same history.
 */
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import type { ServiceName } from '../lib/service-names';

/** Prisma Migrate's own advisory lock key on PostgreSQL, so we also serialise against it. */
const PRISMA_MIGRATE_LOCK_KEY = 72707369;

/** The table as Prisma's schema engine creates it on PostgreSQL. */
const CREATE_MIGRATIONS_TABLE = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)`;

export interface MigrateOptions {
  /** Defaults to prisma/<service>/migrations of this repository. */
  migrationsDir?: string;
  /** How long to wait for another migrator holding the lock. Default 60 s. */
  lockTimeoutMs?: number;
}

export interface MigrateResult {
  /** Migrations applied by this call, in order. */
  applied: string[];
  /** Migrations that were already recorded as applied. */
  alreadyApplied: string[];
}

export interface LocalMigration {
  name: string;
  sql: string;
  checksum: string;
}

export class MigrationError extends Error {
  override readonly name = 'MigrationError';
}

export function migrationsDirFor(service: ServiceName): string {
  return path.resolve(__dirname, '..', 'prisma', service, 'migrations');
}

export function checksumOf(content: string | Buffer): string {
  return createHash('sha256').update(content).digest('hex');
}

/** The migration folders (each with a migration.sql), in name order as Prisma sorts them. */
export function readMigrations(migrationsDir: string): LocalMigration[] {
  if (!existsSync(migrationsDir)) throw new MigrationError(`No migrations folder at ${migrationsDir}`);
  return readdirSync(migrationsDir)
    .filter((entry) => statSync(path.join(migrationsDir, entry)).isDirectory())
    .sort()
    .flatMap((name) => {
      const file = path.join(migrationsDir, name, 'migration.sql');
      if (!existsSync(file)) return [];
      const bytes = readFileSync(file);
      return [{ name, sql: bytes.toString('utf8'), checksum: checksumOf(bytes) }];
    });
}

/** Prisma accepts a recorded checksum of the same script with either line ending. */
function checksumMatches(migration: LocalMigration, recorded: string): boolean {
  if (recorded === migration.checksum) return true;
  const lf = migration.sql.replace(/\r\n/g, '\n');
  return recorded === checksumOf(lf) || recorded === checksumOf(lf.replace(/\n/g, '\r\n'));
}

interface RecordedMigration {
  migration_name: string;
  checksum: string;
  finished_at: Date | null;
  rolled_back_at: Date | null;
}

/**
 * Applies the pending migrations of `service` to the database at `url`, each in its own
 * transaction, under an advisory lock. Refuses (changing nothing) when an applied migration's
 * file has changed or when a recorded migration failed and was not rolled back.
 */
export async function migrateDatabase(
  url: string,
  service: ServiceName,
  options: MigrateOptions = {},
): Promise<MigrateResult> {
  const migrations = readMigrations(options.migrationsDir ?? migrationsDirFor(service));
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    await acquireLock(client, options.lockTimeoutMs ?? 60_000, service);
    try {
      return await applyPending(client, migrations, service);
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [PRISMA_MIGRATE_LOCK_KEY]);
    }
  } finally {
    await client.end();
  }
}

async function acquireLock(client: Client, timeoutMs: number, service: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [
      PRISMA_MIGRATE_LOCK_KEY,
    ]);
    if (rows[0]?.locked) return;
    if (Date.now() > deadline) {
      throw new MigrationError(
        `Timed out after ${timeoutMs} ms waiting for the migration lock of the ${service} database (another migration is running)`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function applyPending(client: Client, migrations: LocalMigration[], service: string): Promise<MigrateResult> {
  await client.query(CREATE_MIGRATIONS_TABLE);
  const { rows: recorded } = await client.query<RecordedMigration>(
    `SELECT migration_name, checksum, finished_at, rolled_back_at
       FROM "_prisma_migrations" ORDER BY started_at, migration_name`,
  );

  const failed = recorded.find((row) => row.finished_at === null && row.rolled_back_at === null);
  if (failed) {
    throw new MigrationError(
      `Migration ${failed.migration_name} of the ${service} database started but failed (it is recorded in ` +
        `_prisma_migrations with no finished_at). Fix the database, then mark it rolled back ` +
        `(\`prisma migrate resolve --rolled-back ${failed.migration_name}\`, or set its rolled_back_at) before migrating again.`,
    );
  }

  const applied = new Map<string, RecordedMigration>();
  for (const row of recorded)
    if (row.finished_at !== null && row.rolled_back_at === null) applied.set(row.migration_name, row);

  // Check every applied migration before applying anything, so a refusal changes nothing.
  for (const migration of migrations) {
    const row = applied.get(migration.name);
    if (row && !checksumMatches(migration, row.checksum)) {
      throw new MigrationError(
        `Migration ${migration.name} of the ${service} database was modified after it was applied: ` +
          `recorded checksum ${row.checksum}, file checksum ${migration.checksum}. ` +
          `Restore the file and add a new migration for the change.`,
      );
    }
  }

  const result: MigrateResult = { applied: [], alreadyApplied: [] };
  for (const migration of migrations) {
    if (applied.has(migration.name)) {
      result.alreadyApplied.push(migration.name);
      continue;
    }
    await applyOne(client, migration, service);
    result.applied.push(migration.name);
  }
  return result;
}

/**
 * One migration, one transaction: the script and its `_prisma_migrations` row commit together,
 * so a failing script leaves neither behind (unlike the engine, which keeps a failed row; there
 * is nothing to resolve by hand when the database was rolled back).
 */
async function applyOne(client: Client, migration: LocalMigration, service: string): Promise<void> {
  const id = randomUUID();
  await client.query('BEGIN');
  try {
    await client.query(
      `INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at, applied_steps_count)
       VALUES ($1, $2, $3, clock_timestamp(), 0)`,
      [id, migration.checksum, migration.name],
    );
    await client.query(migration.sql);
    await client.query(
      `UPDATE "_prisma_migrations" SET finished_at = clock_timestamp(), applied_steps_count = 1 WHERE id = $1`,
      [id],
    );
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw new MigrationError(
      `Migration ${migration.name} of the ${service} database failed and was rolled back: ${(error as Error).message}`,
      { cause: error },
    );
  }
}
