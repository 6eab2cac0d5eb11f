/**
 * `npm run db:migrate`: finds PostgreSQL (DATABASE_URL, the local server, or an embedded one under
 * .data/; none when every service has its own `<SERVICE>_DATABASE_URL`), creates the seven service
 * databases if missing and applies their migrations.
 */
import { databaseUrlVariable, LOCAL_POSTGRES_URL } from '../lib/config';
import { SERVICES, type ServiceName } from '../lib/service-names';
import { migrateDatabase, type MigrateResult } from './migrator';
import { withPostgres } from './postgres';
import { ensureDatabases, redactUrl } from './provision';
import { commandLineOrExit } from '../lib/command-line';

type Env = Record<string, string | undefined>;

/** Creates and migrates every service database on `serverUrl`; returns each one's URL and result. */
export async function migrateAll(
  serverUrl: string,
  env: Env = process.env,
  onMigrated: (service: ServiceName, url: string, result: MigrateResult) => void = () => undefined,
): Promise<Record<ServiceName, string>> {
  const urls = await ensureDatabases(serverUrl, env);
  for (const service of SERVICES) {
    const result = await migrateDatabase(urls[service], service);
    onMigrated(service, urls[service], result);
  }
  return urls;
}

export function describeResult(service: ServiceName, url: string, result: MigrateResult): string {
  const what = result.applied.length
    ? `applied ${result.applied.join(', ')}`
    : `up to date (${result.alreadyApplied.length} migration${result.alreadyApplied.length === 1 ? '' : 's'})`;
  return `${service.padEnd(14)} ${what}  [${redactUrl(url)}]`;
}

async function main(): Promise<void> {
  commandLineOrExit(
    'npm run db:migrate: creates the missing service databases and applies their pending migrations, offline.',
    {},
    () => undefined,
  );
  const started = Date.now();
  await withMigratedDatabases(
    async () => undefined,
    (service, url, result) => console.log(describeResult(service, url, result)),
    (serverUrl) => console.log(`PostgreSQL: ${redactUrl(serverUrl)}`),
  );
  console.log(`done in ${Date.now() - started} ms`);
}

/**
 * Creates and migrates every service database, then runs `work` with their URLs. When every
 * service has its own `<SERVICE>_DATABASE_URL` (compose: each as its own role, which may connect
 * to its own database only) there is no server to find; otherwise withPostgres finds one.
 */
export async function withMigratedDatabases<T>(
  work: (urls: Record<ServiceName, string>) => Promise<T>,
  onMigrated?: (service: ServiceName, url: string, result: MigrateResult) => void,
  onServer: (serverUrl: string) => void = () => undefined,
  env: Env = process.env,
): Promise<T> {
  if (SERVICES.every((service) => env[databaseUrlVariable(service)])) {
    return work(await migrateAll(LOCAL_POSTGRES_URL, env, onMigrated));
  }
  return withPostgres(async (postgres) => {
    onServer(postgres.serverUrl);
    return work(await migrateAll(postgres.serverUrl, env, onMigrated));
  });
}

if (require.main === module) {
  main().catch((error: Error) => {
    console.error(`db:migrate failed: ${error.message}`);
    process.exit(1);
  });
}
