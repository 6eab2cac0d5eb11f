/**
 * Per-run PostgreSQL databases, one per service, for tests, benchmarks and the chaos run. Each
 * run's databases are named `<prefix><runId>_<service>`; a run id starts with its start time in
 * base 36, so the databases of a run that crashed can be recognised and dropped by a later one.
 */
import { randomBytes } from 'node:crypto';
import type { Client } from 'pg';
import { withDatabase } from '../lib/config';
import { migrateDatabase } from '../devstack/migrator';
import { quoteIdentifier, withAdmin } from '../devstack/provision';
import { SERVICES, type ServiceName } from '../lib/service-names';

/** A new run id: the start time in base 36 (8 characters for centuries to come), then randomness. */
export function newRunId(): string {
  return `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
}

export function runDatabaseNames(
  prefix: string,
  runId: string,
  services: readonly ServiceName[] = SERVICES,
): Record<ServiceName, string> {
  return Object.fromEntries(services.map((service) => [service, `${prefix}${runId}_${service}`])) as Record<
    ServiceName,
    string
  >;
}

export interface RunDatabases {
  urls: Record<ServiceName, string>;
  names: Record<ServiceName, string>;
  drop(): Promise<void>;
}

/** Creates the run's databases and migrates each (in parallel), after dropping what crashed runs of the prefix left. */
export async function createRunDatabases(serverUrl: string, prefix: string, runId: string): Promise<RunDatabases> {
  const names = runDatabaseNames(prefix, runId);
  await withAdmin(serverUrl, async (admin) => {
    await dropStaleDatabases(admin, [prefix]);
    for (const service of SERVICES) await admin.query(`CREATE DATABASE ${quoteIdentifier(names[service])}`);
  });
  const urls = Object.fromEntries(
    SERVICES.map((service) => [service, withDatabase(serverUrl, names[service])]),
  ) as Record<ServiceName, string>;
  await Promise.all(SERVICES.map((service) => migrateDatabase(urls[service], service)));
  return { urls, names, drop: () => dropDatabases(serverUrl, Object.values(names)) };
}

/** Drops databases in parallel (one admin connection each: every DROP waits for a checkpoint). */
export async function dropDatabases(serverUrl: string, names: readonly string[]): Promise<void> {
  await Promise.all(names.map((name) => withAdmin(serverUrl, (admin) => dropDatabase(admin, name))));
}

/** Drops one database, also a template, also while something is still connected to it. */
export async function dropDatabase(admin: Client, name: string): Promise<void> {
  // A template cannot be dropped until it is one no more. A database a drop left half-done is
  // "invalid" (datconnlimit -2): PostgreSQL answers ALTER on it with FATAL, which ends the admin
  // connection, but DROP still removes it. So only a valid template is altered first.
  const { rows } = await admin.query<{ datistemplate: boolean; datconnlimit: number }>(
    'SELECT datistemplate, datconnlimit FROM pg_database WHERE datname = $1',
    [name],
  );
  const database = rows[0];
  if (!database) return;
  if (database.datistemplate && database.datconnlimit !== -2)
    await admin.query(`ALTER DATABASE ${quoteIdentifier(name)} WITH IS_TEMPLATE false`);
  await admin.query(`DROP DATABASE IF EXISTS ${quoteIdentifier(name)} WITH (FORCE)`);
}

/** Databases of runs with these prefixes that started more than `olderThanMs` ago (a day by default): crashed runs' leftovers. */
export async function dropStaleDatabases(
  admin: Client,
  prefixes: readonly string[],
  olderThanMs = 24 * 60 * 60 * 1000,
): Promise<void> {
  const { rows } = await admin.query<{ datname: string }>(
    `SELECT datname FROM pg_database WHERE datname LIKE ANY($1::text[])`,
    [prefixes.map((p) => `${p}%`)],
  );
  const cutoff = Date.now() - olderThanMs;
  for (const { datname } of rows) {
    const prefix = prefixes.find((p) => datname.startsWith(p))!;
    const startedAt = parseInt(datname.slice(prefix.length, prefix.length + 8), 36);
    if (Number.isFinite(startedAt) && startedAt < cutoff) await dropDatabase(admin, datname).catch(() => undefined);
  }
}
