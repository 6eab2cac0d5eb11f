/**
 * The local stack behind `npm start`: tools, generated clients, PostgreSQL and the six databases,
 * the Temporal dev server, stripe-mock, the workers and the API; stops them all on Ctrl-C.
 * Every step is idempotent, so a second start only checks and starts.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { SERVICES, type ServiceName } from '../lib/services';
import { resolvePostgres, type ResolvedPostgres } from '../lib/db/postgres';
import { ensureDatabases, redactUrl } from '../lib/db/provision';
import { migrateDatabase } from '../lib/db/migrator';
import { generateClients } from './generate-clients';
import { seedDemoData } from './seed';
import { ensureTool } from './lib/tools';
import { Supervisor, assertPortFree, waitForHttp, waitForPort } from './lib/processes';
import { removeRunRecord, stopLeftovers, writeRunRecord } from './lib/run-record';
import { stripeMockArgs, temporalDevServerArgs, waitForStripeMock, waitForTemporal } from './lib/dev-servers';

type Env = Record<string, string | undefined>;

const ROOT = path.resolve(__dirname, '..');

export interface StackConfig {
  dataDir: string;
  host: string;
  apiPort: number;
  temporalPort: number;
  temporalUiPort: number;
  temporalNamespace: string;
  /** Undefined when STRIPE_SECRET_KEY is set: the stack then talks to Stripe itself, not to stripe-mock. */
  stripeMock: { httpPort: number; httpsPort: number } | undefined;
}

function port(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0 || value > 65535) throw new Error(`${name} must be a TCP port, got "${raw}"`);
  return value;
}

export function readStackConfig(env: Env = process.env): StackConfig {
  return {
    dataDir: path.resolve(env.STOREFRONT_DATA_DIR || path.join(ROOT, '.data')),
    host: env.HOST || '127.0.0.1',
    apiPort: port(env, 'PORT', 3000),
    temporalPort: port(env, 'TEMPORAL_PORT', 7233),
    temporalUiPort: port(env, 'TEMPORAL_UI_PORT', 8233),
    temporalNamespace: env.TEMPORAL_NAMESPACE || 'default',
    stripeMock: env.STRIPE_SECRET_KEY
      ? undefined
      : { httpPort: port(env, 'STRIPE_MOCK_PORT', 12111), httpsPort: port(env, 'STRIPE_MOCK_HTTPS_PORT', 12112) },
  };
}

/** Fails before anything starts, naming the port, what it is for and the variable that moves it. */
export async function checkPorts(config: StackConfig): Promise<void> {
  const wanted: Array<[number, string]> = [
    [config.apiPort, 'storefront API, PORT'],
    [config.temporalPort, 'Temporal frontend, TEMPORAL_PORT'],
    [config.temporalUiPort, 'Temporal Web UI, TEMPORAL_UI_PORT'],
  ];
  if (config.stripeMock) {
    wanted.push([config.stripeMock.httpPort, 'stripe-mock HTTP, STRIPE_MOCK_PORT']);
    wanted.push([config.stripeMock.httpsPort, 'stripe-mock HTTPS, STRIPE_MOCK_HTTPS_PORT']);
  }
  const errors: string[] = [];
  for (const [number, what] of wanted) {
    await assertPortFree(number, what, config.host).catch((error: Error) => errors.push(error.message));
  }
  if (errors.length > 0) throw new StartupError(errors.join('\n'));
}

/** A failure whose message is the whole story: printed without a stack trace. */
export class StartupError extends Error {}

async function ensureTools(signal: AbortSignal): Promise<{ temporal: string; stripeMock: string }> {
  // One after the other: each `go install` takes minutes and gigabytes on a first run.
  const temporal = await ensureTool('temporal', { signal });
  const stripeMock = await ensureTool('stripe-mock', { signal });
  return { temporal, stripeMock };
}

function tsxArgs(script: string): string[] {
  // `node --import tsx` rather than `npx tsx`: no npx lookup on every start, and one process per service instead of three.
  return ['--import', 'tsx', path.join(ROOT, script)];
}

async function generateDatabaseClients(): Promise<void> {
  const results = await generateClients();
  const generated = results.filter((result) => result.generated).map((result) => result.service);
  if (generated.length > 0) log(`generated Prisma clients: ${generated.join(', ')}`);
}

async function prepareDatabases(
  dataDir: string,
  signal: AbortSignal,
  onPostgres: (postgres: ResolvedPostgres) => void,
): Promise<Record<ServiceName, string> & { server: string }> {
  const postgres = await resolvePostgres({ dataDir, onLog: (line) => process.stdout.write(`[postgres] ${line}\n`) });
  onPostgres(postgres);
  signal.throwIfAborted();
  log(`PostgreSQL (${postgres.source}): ${redactUrl(postgres.serverUrl)}`);
  const urls = await ensureDatabases(postgres.serverUrl);
  for (const service of SERVICES) await migrateDatabase(urls[service], service);
  await seedDemoData(urls);
  return { ...urls, server: postgres.serverUrl };
}

async function startTemporal(supervisor: Supervisor, cli: string, config: StackConfig): Promise<void> {
  const dbFilename = path.join(config.dataDir, 'temporal', 'temporal.db');
  mkdirSync(path.dirname(dbFilename), { recursive: true });
  const proc = supervisor.start({
    name: 'temporal',
    command: cli,
    args: temporalDevServerArgs({
      port: config.temporalPort,
      uiPort: config.temporalUiPort,
      dbFilename,
      // With payloads encrypted, the UI asks the API's codec endpoint to show them (to a signed-in admin).
      ...(process.env.PAYLOAD_ENCRYPTION_KEYS?.trim() ? { uiCodecEndpoint: `http://${config.host}:${config.apiPort}/codec` } : {}),
    }),
    cwd: ROOT,
    quietOnStop: true,
  });
  await waitForPort(config.temporalPort, 'the Temporal dev server', { process: proc });
  await waitForTemporal(`127.0.0.1:${config.temporalPort}`, config.temporalNamespace, { process: proc });
  await waitForPort(config.temporalUiPort, 'the Temporal Web UI', { process: proc });
}

async function startStripeMock(supervisor: Supervisor, binary: string, config: StackConfig): Promise<void> {
  if (!config.stripeMock) return;
  const { httpPort, httpsPort } = config.stripeMock;
  const proc = supervisor.start({ name: 'stripe-mock', command: binary, args: stripeMockArgs(httpPort, httpsPort), cwd: ROOT, output: 'ignore' });
  await waitForStripeMock(`http://127.0.0.1:${httpPort}`, { process: proc });
}

function serviceEnv(config: StackConfig, databases: Record<ServiceName, string> & { server: string }): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: databases.server,
    TEMPORAL_ADDRESS: `127.0.0.1:${config.temporalPort}`,
    TEMPORAL_NAMESPACE: config.temporalNamespace,
    PORT: String(config.apiPort),
    HOST: config.host,
    ALLOW_DEV_TOKENS: process.env.ALLOW_DEV_TOKENS ?? 'true',
  };
  for (const service of SERVICES) env[`${service.toUpperCase()}_DATABASE_URL`] = databases[service];
  if (config.stripeMock) env.STRIPE_API_BASE = `http://127.0.0.1:${config.stripeMock.httpPort}`;
  return env;
}

async function startServices(supervisor: Supervisor, config: StackConfig, env: NodeJS.ProcessEnv): Promise<void> {
  const worker = supervisor.start({ name: 'worker', command: process.execPath, args: tsxArgs('worker.ts'), cwd: ROOT, env });
  const api = supervisor.start({ name: 'api', command: process.execPath, args: tsxArgs('api/server.ts'), cwd: ROOT, env });
  await Promise.all([
    waitForHttp(`http://${config.host}:${config.apiPort}/healthz`, 'the storefront API', { process: api }),
    // worker.ts prints this once its workflow bundle is built and it starts polling.
    worker.waitForOutput(WORKER_READY_LINE, { timeoutMs: 120_000 }),
  ]);
}

const WORKER_READY_LINE = /\bworkers? polling\b/;

function printUrls(config: StackConfig, seconds: number): void {
  const api = `http://${config.host}:${config.apiPort}`;
  const lines = [
    '',
    `Storefront Sagas is running (ready in ${seconds.toFixed(1)}s):`,
    `  API           ${api}`,
    `  Dashboard     ${api}/`,
    `  OpenAPI       ${api}/docs`,
    `  Temporal UI   http://127.0.0.1:${config.temporalUiPort}`,
    `  Temporal gRPC 127.0.0.1:${config.temporalPort}`,
    ...(config.stripeMock ? [`  stripe-mock   http://127.0.0.1:${config.stripeMock.httpPort}`] : []),
    `  Data          ${config.dataDir}`,
    'Press Ctrl-C to stop.',
    '',
  ];
  process.stdout.write(lines.join('\n'));
}

function log(message: string): void {
  process.stdout.write(`[stack] ${message}\n`);
}

const timings: string[] = [];

/** Runs one startup step and records how long it took, for the summary line. */
async function timed<T>(step: string, run: () => Promise<T>): Promise<T> {
  const begun = Date.now();
  const result = await run();
  timings.push(`${step} ${((Date.now() - begun) / 1000).toFixed(1)}s`);
  return result;
}

/** Signals repeated this soon after the first are the same Ctrl-C relayed by npm or scripts/start.js, not a second one. */
const DUPLICATE_SIGNAL_WINDOW_MS = 1_500;

async function main(): Promise<void> {
  const started = Date.now();
  const config = readStackConfig();
  const supervisor = new Supervisor();
  const aborter = new AbortController();
  let postgres: ResolvedPostgres | undefined;
  let postgresPending: Promise<unknown> = Promise.resolve();
  let stopping: Promise<void> | undefined;
  let firstSignalAt = 0;

  const stop = (reason: string, exitCode: number): Promise<void> => {
    stopping ??= (async () => {
      aborter.abort();
      log(`stopping (${reason})...`);
      const begun = Date.now();
      // The API first so it stops taking requests, then the workers, then what they depend on.
      await supervisor.stop(['api']);
      await supervisor.stop(['worker']);
      await supervisor.stopAll();
      await postgresPending.catch(() => undefined);
      await postgres?.stop().catch((error: Error) => log(`PostgreSQL did not stop cleanly: ${error.message}`));
      removeRunRecord(config.dataDir);
      log(`stopped in ${((Date.now() - begun) / 1000).toFixed(1)}s`);
      process.exit(exitCode);
    })();
    return stopping;
  };

  const onSignal = (signal: NodeJS.Signals): void => {
    const now = Date.now();
    if (!firstSignalAt) {
      firstSignalAt = now;
      void stop(signal, 0);
    } else if (now - firstSignalAt > DUPLICATE_SIGNAL_WINDOW_MS) {
      log(`second ${signal}: killing everything now`);
      supervisor.killAll();
      process.exit(1);
    }
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, onSignal);

  supervisor.onUnexpectedExit((proc, code, signal) => {
    log(`${proc.name} exited unexpectedly (${signal ?? `exit code ${code}`})`);
    void stop(`${proc.name} exited`, 1);
  });

  try {
    await stopLeftovers(config.dataDir, log).catch((error: Error) => {
      throw new StartupError(error.message);
    });
    await timed('ports', () => checkPorts(config));
    const tools = await timed('tools', () => ensureTools(aborter.signal));
    mkdirSync(config.dataDir, { recursive: true });
    // The dev servers start while the databases are prepared: neither needs the other.
    supervisor.onStart(() => writeRunRecord(config.dataDir, supervisor.list()));
    const servers = Promise.all([
      timed('temporal', () => startTemporal(supervisor, tools.temporal, config)),
      timed('stripe-mock', () => startStripeMock(supervisor, tools.stripeMock, config)),
    ]);
    servers.catch(() => undefined);
    const databases = (async () => {
      await timed('clients', generateDatabaseClients);
      aborter.signal.throwIfAborted();
      return timed('databases', () => prepareDatabases(config.dataDir, aborter.signal, (resolved) => (postgres = resolved)));
    })();
    // A stop while this is pending waits for it, so an embedded PostgreSQL that is starting still gets stopped.
    postgresPending = databases;
    const [urls] = await Promise.all([databases, servers]);
    aborter.signal.throwIfAborted();
    await timed('workers and API', () => startServices(supervisor, config, serviceEnv(config, urls)));
    printUrls(config, (Date.now() - started) / 1000);
    log(`startup steps: ${timings.join(', ')}`);
  } catch (error) {
    if (stopping) return; // a signal or a crash is already stopping the stack
    process.stderr.write(`\n${error instanceof StartupError ? error.message : (error as Error).stack ?? String(error)}\n\n`);
    await stop('startup failed', 1);
  }
}

if (require.main === module) void main();
