/**
 * Real PostgreSQL databases for tests. Jest's global setup migrates one template database per
 * service once per run; each test file then clones fresh databases from them (`CREATE DATABASE
 * ... TEMPLATE`, a file copy that takes milliseconds), so no test depends on another's data.
 */
import { randomBytes } from 'node:crypto';
import { dropDatabase, dropStaleDatabases, newRunId } from '../../harness/databases';
import { migrateDatabase } from '../../devstack/migrator';
import { resolvePostgres, type ResolvedPostgres } from '../../devstack/postgres';
import { quoteIdentifier, withAdmin } from '../../devstack/provision';
import { withDatabase } from '../../lib/config';
import { SERVICES, type ServiceName } from '../../lib/service-names';
import { generateClients } from '../../devstack/generate-clients';

/** Set by prepareDatabaseTemplates for the test files (Jest workers inherit process.env). */
export const TEST_ENV = {
  serverUrl: 'TEST_POSTGRES_URL',
  templates: 'TEST_DATABASE_TEMPLATES',
  runId: 'TEST_DATABASE_RUN_ID',
} as const;

const TEMPLATE_PREFIX = 'storefront_tpl_';
const TEST_PREFIX = 'storefront_test_';
const DISPOSE_WAIT_MS = 4000;

interface RunState {
  postgres: ResolvedPostgres;
  serverUrl: string;
  runId: string;
  templates: Record<ServiceName, string>;
}

// Global setup and teardown are separate modules in the same process: keep the state on globalThis.
const stateKey = Symbol.for('storefront.test.databases');
const holder = globalThis as unknown as { [stateKey]?: RunState };

export interface PreparedTemplates {
  serverUrl: string;
  source: ResolvedPostgres['source'];
  templates: Record<ServiceName, string>;
  timingsMs: { generate: number; migrate: number };
}

/**
 * Once per Jest run, in the parent process: makes sure the Prisma clients are generated,
 * finds PostgreSQL as `npm start` does, and creates one migrated template per service.
 */
export async function prepareDatabaseTemplates(): Promise<PreparedTemplates> {
  const generateStarted = Date.now();
  await generateClients();
  const generate = Date.now() - generateStarted;

  const postgres = await resolvePostgres();
  const serverUrl = postgres.serverUrl;
  const runId = newRunId();
  const templates = {} as Record<ServiceName, string>;
  for (const service of SERVICES) templates[service] = `${TEMPLATE_PREFIX}${runId}_${service}`;

  const migrateStarted = Date.now();
  await withAdmin(serverUrl, async (admin) => {
    await dropStaleDatabases(admin, [TEMPLATE_PREFIX, TEST_PREFIX]);
    for (const service of SERVICES) await admin.query(`CREATE DATABASE ${quoteIdentifier(templates[service])}`);
  });
  await Promise.all(SERVICES.map((service) => migrateDatabase(withDatabase(serverUrl, templates[service]), service)));
  // The migrator has closed its connections; forbidding new ones keeps the templates clonable
  // (CREATE DATABASE ... TEMPLATE fails while anyone is connected to the template).
  await withAdmin(serverUrl, async (admin) => {
    for (const service of SERVICES) {
      await admin.query(
        `ALTER DATABASE ${quoteIdentifier(templates[service])} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false`,
      );
    }
  });
  const migrate = Date.now() - migrateStarted;

  holder[stateKey] = { postgres, serverUrl, runId, templates };
  process.env[TEST_ENV.serverUrl] = serverUrl;
  process.env[TEST_ENV.templates] = JSON.stringify(templates);
  process.env[TEST_ENV.runId] = runId;
  return { serverUrl, source: postgres.source, templates, timingsMs: { generate, migrate } };
}

/** Global teardown: drops the templates and whatever test databases of this run are left. */
export async function dropDatabaseTemplates(): Promise<void> {
  const state = holder[stateKey];
  if (!state) return;
  holder[stateKey] = undefined;
  try {
    const { rows } = await withAdmin(state.serverUrl, (admin) =>
      admin.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname LIKE $1 OR datname LIKE $2`, [
        `${TEMPLATE_PREFIX}${state.runId}\\_%`,
        `${TEST_PREFIX}${state.runId}\\_%`,
      ]),
    );
    const outcomes = await Promise.allSettled(
      rows.map(({ datname }) => withAdmin(state.serverUrl, (admin) => dropDatabase(admin, datname))),
    );
    const failures = outcomes.filter((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
    if (failures.length > 0) {
      throw new Error(
        `Could not drop ${failures.length} test database(s): ${failures.map((f) => String(f.reason)).join('; ')}`,
      );
    }
  } finally {
    await state.postgres.stop();
  }
}

export interface TestDatabases {
  urls: Record<ServiceName, string>;
  dispose(): Promise<void>;
}

/**
 * One service's fresh database for the whole test file, opened with `open` (its Prisma
 * client factory) before the file's tests and closed and dropped after them. `opened`, if
 * given, is handed the client as soon as it is open: the place to build the service under
 * test. Otherwise register it before the file's own beforeAll, which can then read `.db`.
 */
export function useServiceDatabase<Db extends { $disconnect(): Promise<unknown> }>(
  service: ServiceName,
  open: (url: string) => Db,
  opened?: (db: Db) => void,
): { readonly db: Db; readonly url: string } {
  let databases: TestDatabases | undefined;
  let db: Db | undefined;
  beforeAll(async () => {
    databases = await createTestDatabases([service]);
    db = open(databases.urls[service]);
    opened?.(db);
  });
  afterAll(async () => {
    await db?.$disconnect();
    await databases?.dispose();
  });
  const current = () => {
    if (!db || !databases)
      throw new Error(`The ${service} test database is opened in beforeAll; use it inside a hook or test`);
    return { db, url: databases.urls[service] };
  };
  return {
    get db() {
      return current().db;
    },
    get url() {
      return current().url;
    },
  };
}

/**
 * Fresh, migrated databases for one test file, cloned from the run's templates. Only the
 * services asked for get a database; the others' URLs are left out.
 *   const dbs = await createTestDatabases(['inventory']);  ...  afterAll(() => dbs.dispose());
 */
export async function createTestDatabases(services: readonly ServiceName[] = SERVICES): Promise<TestDatabases> {
  const { serverUrl, runId, templates } = testRun();
  const suffix = randomBytes(4).toString('hex');
  const names = services.map((service) => ({ service, name: `${TEST_PREFIX}${runId}_${service}_${suffix}` }));

  // One connection per database: the clones (of different templates) proceed in parallel.
  const outcomes = await Promise.allSettled(
    names.map(({ service, name }) =>
      withAdmin(serverUrl, (admin) =>
        admin.query(`CREATE DATABASE ${quoteIdentifier(name)} TEMPLATE ${quoteIdentifier(templates[service])}`),
      ),
    ),
  );
  const created = names.filter((_, index) => outcomes[index]?.status === 'fulfilled').map(({ name }) => name);
  const failure = outcomes.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
  if (failure) {
    await withAdmin(serverUrl, async (admin) => {
      for (const name of created) await dropDatabase(admin, name).catch(() => undefined);
    });
    throw failure.reason;
  }
  const urls = {} as Record<ServiceName, string>;
  for (const { service, name } of names) urls[service] = withDatabase(serverUrl, name);

  let disposed = false;
  return {
    urls,
    async dispose() {
      if (disposed) return;
      disposed = true;
      // Each DROP DATABASE waits for a checkpoint (~0.2-1 s on a busy server): drop them in
      // parallel, and return within Jest's default hook timeout even so; the global teardown
      // drops whatever of this run is still there.
      const drops = Promise.all(created.map((name) => withAdmin(serverUrl, (admin) => dropDatabase(admin, name))));
      drops.catch(() => undefined);
      await Promise.race([drops, new Promise((resolve) => setTimeout(resolve, DISPOSE_WAIT_MS).unref())]);
    },
  };
}

/** An empty database (nothing migrated) for tests of the migration tooling itself. */
export async function createEmptyTestDatabase(
  label = 'empty',
): Promise<{ url: string; name: string; dispose(): Promise<void> }> {
  const { serverUrl, runId } = testRun();
  const name = `${TEST_PREFIX}${runId}_${label}_${randomBytes(4).toString('hex')}`;
  await withAdmin(serverUrl, (admin) => admin.query(`CREATE DATABASE ${quoteIdentifier(name)}`));
  return {
    url: withDatabase(serverUrl, name),
    name,
    dispose: () => withAdmin(serverUrl, (admin) => dropDatabase(admin, name)),
  };
}

/** The server of this run and its id, for tests that manage databases themselves. */
export function testRun(): { serverUrl: string; runId: string; templates: Record<ServiceName, string> } {
  const serverUrl = process.env[TEST_ENV.serverUrl];
  const templatesJson = process.env[TEST_ENV.templates];
  const runId = process.env[TEST_ENV.runId];
  if (!serverUrl || !templatesJson || !runId) {
    throw new Error(
      'No template databases: run tests through Jest, whose global setup (test/global-setup.ts) calls prepareDatabaseTemplates()',
    );
  }
  return { serverUrl, runId, templates: JSON.parse(templatesJson) as Record<ServiceName, string> };
}
