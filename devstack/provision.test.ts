import { Client } from 'pg';
import { randomBytes } from 'node:crypto';
import { databaseUrlVariable, serviceDatabaseUrls, withDatabase } from '../lib/config';
import { SERVICES, type ServiceName } from '../lib/service-names';
import { testRun } from '../test/helpers/databases';
import {
  databaseNameOf,
  ensureDatabase,
  ensureDatabases,
  maintenanceUrl,
  quoteIdentifier,
  redactUrl,
} from './provision';

// Each test creates seven databases, and each CREATE DATABASE waits for a checkpoint: seconds on a busy machine.
jest.setTimeout(60_000);

const { serverUrl, runId } = testRun();
const created = new Set<string>();

afterAll(async () => {
  // Each DROP DATABASE waits for a checkpoint: drop in parallel, and give it time.
  await Promise.all(
    [...created].map(async (name) => {
      const admin = new Client({ connectionString: maintenanceUrl(serverUrl) });
      await admin.connect();
      try {
        await admin.query(`DROP DATABASE IF EXISTS ${quoteIdentifier(name)} WITH (FORCE)`);
      } finally {
        await admin.end();
      }
    }),
  );
}, 60_000);

/** Per-service URLs on the test server, so the tests never touch the real storefront_* databases. */
function isolatedEnv(): Record<string, string> {
  const suffix = randomBytes(3).toString('hex');
  const env: Record<string, string> = {};
  for (const service of SERVICES) {
    const name = `storefront_test_${runId}_prov_${service}_${suffix}`;
    created.add(name);
    env[databaseUrlVariable(service)] = withDatabase(serverUrl, name);
  }
  return env;
}

async function exists(name: string): Promise<boolean> {
  const admin = new Client({ connectionString: maintenanceUrl(serverUrl) });
  await admin.connect();
  try {
    return (await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount === 1;
  } finally {
    await admin.end();
  }
}

describe('ensureDatabases', () => {
  it('creates every missing service database and returns the per-service URLs', async () => {
    const env = isolatedEnv();
    const urls = await ensureDatabases(serverUrl, env);
    for (const service of SERVICES) {
      expect(urls[service]).toBe(env[databaseUrlVariable(service)]);
      expect(await exists(databaseNameOf(urls[service]))).toBe(true);
    }
  });

  it('leaves existing databases and their data alone', async () => {
    const env = isolatedEnv();
    const urls = await ensureDatabases(serverUrl, env);
    const client = new Client({ connectionString: urls.inventory });
    await client.connect();
    await client.query('CREATE TABLE kept (id INTEGER); INSERT INTO kept VALUES (1)');
    await client.end();

    await expect(ensureDatabases(serverUrl, env)).resolves.toEqual(urls);
    const again = new Client({ connectionString: urls.inventory });
    await again.connect();
    expect((await again.query('SELECT count(*)::int AS n FROM kept')).rows[0]).toEqual({ n: 1 });
    await again.end();
  });

  it('survives several processes creating the same databases at once', async () => {
    const env = isolatedEnv();
    const results = await Promise.all([1, 2, 3, 4].map(() => ensureDatabases(serverUrl, env)));
    for (const urls of results) expect(urls).toEqual(results[0]);
    for (const service of SERVICES as readonly ServiceName[]) {
      expect(await exists(databaseNameOf(results[0]![service]))).toBe(true);
    }
  });

  it('reports whether it created a database', async () => {
    const name = `storefront_test_${runId}_prov_single_${randomBytes(3).toString('hex')}`;
    created.add(name);
    const url = withDatabase(serverUrl, name);
    expect(await ensureDatabase(url)).toBe(true);
    expect(await ensureDatabase(url)).toBe(false);
  });

  it('names the database with its default storefront_<service> name when no per-service URL is set', () => {
    // Only the URLs are computed here: serviceDatabaseUrls is what ensureDatabases returns.
    expect(serviceDatabaseUrls('postgresql://u:p@db.example:5432/postgres', {}).quota).toBe(
      'postgresql://u:p@db.example:5432/storefront_quota',
    );
  });
});

describe('redactUrl', () => {
  it('masks the password', () => {
    expect(redactUrl('postgresql://user:secret@host:5432/db')).toBe('postgresql://user:***@host:5432/db');
    expect(redactUrl('postgresql://user@host/db')).toBe('postgresql://user@host/db');
  });
});
