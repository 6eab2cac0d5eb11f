/**
 * `npm run db:migrate`: finds PostgreSQL (DATABASE_URL, the local server, or an embedded one
 * under .data/), creates the seven service databases if missing and applies their migrations.
 */
import { SERVICES, type ServiceName } from '../lib/service-names';
import { migrateDatabase, type MigrateResult } from './migrator';
import { withPostgres } from './postgres';
import { ensureDatabases, redactUrl } from './provision';

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
  const started = Date.now();
  await withPostgres(async (postgres) => {
    console.log(`PostgreSQL (${postgres.source}): ${redactUrl(postgres.serverUrl)}`);
    await migrateAll(postgres.serverUrl, process.env, (service, url, result) =>
      console.log(describeResult(service, url, result)),
    );
    console.log(`done in ${Date.now() - started} ms`);
  });
}

if (require.main === module) {
  main().catch((error: Error) => {
    console.error(`db:migrate failed: ${error.message}`);
    process.exit(1);
  });
}
