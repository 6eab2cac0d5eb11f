/**
 * The local stack behind `npm start`: tools, generated clients, PostgreSQL and the seven databases,
 * the Temporal dev server, stripe-mock, Mailpit, the workers and the API; stops them all on Ctrl-C.
 * Every step is idempotent, so a second start only checks and starts.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { DEMO_ACCOUNTS, DEMO_PASSWORD } from '../services/accounts/demo-accounts';
import { SERVICES, type ServiceName } from '../lib/service-names';
import { resolvePostgres, type ResolvedPostgres } from './postgres';
import { ensureDatabases, redactUrl } from './provision';
import { migrateDatabase } from './migrator';
import { generateClients } from './generate-clients';
import { ensureTool } from './tools';
import { Supervisor } from './supervisor';
import { assertPortFree, waitForHttp, waitForPort } from './waits';
import { removeRunRecord, stopLeftovers, writeRunRecord } from './run-record';
import {
  mailpitArgs,
  stripeMockArgs,
  temporalDevServerArgs,
  waitForMailpit,
  waitForStripeMock,
  waitForTemporal,
} from './dev-servers';
import { logFormatFromEnv, openProcessLog, type LogFormat, type ProcessLog } from './process-logs';
import { databaseUrlEnv } from '../lib/config';
import { commandLineOrExit } from '../lib/command-line';

type Env = Record<string, string | undefined>;

const ROOT = path.resolve(__dirname, '..');

/** The local stack's session secret: published here, so lib/production.ts refuses it in production. */
export const LOCAL_JWT_SECRET = 'local-development-secret-change-me-in-production';

export interface StackConfig {
  dataDir: string;
  host: string;
  apiPort: number;
  temporalPort: number;
  temporalUiPort: number;
  temporalNamespace: string;
  /** Undefined when STRIPE_SECRET_KEY is set: the stack then talks to Stripe itself, not to stripe-mock. */
  stripeMock: { httpPort: number; httpsPort: number } | undefined;
  /** Undefined when SMTP_URL is set: the stack then sends mail through that server, not Mailpit. */
  mailpit: { smtpPort: number; httpPort: number } | undefined;
  /** `pretty`: the console shows progress and errors, the logs go to files; `json`: every log line on the console. */
  logFormat: LogFormat;
  logsDir: string;
}

function port(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0 || value > 65535)
    throw new Error(`${name} must be a TCP port, got "${raw}"`);
  return value;
}

export function readStackConfig(env: Env = process.env): StackConfig {
  const dataDir = path.resolve(env.STOREFRONT_DATA_DIR || path.join(ROOT, '.data'));
  return {
    dataDir,
    logsDir: path.join(dataDir, 'logs'),
    logFormat: logFormatFromEnv(env),
    host: env.HOST || '127.0.0.1',
    apiPort: port(env, 'PORT', 3000),
    temporalPort: port(env, 'TEMPORAL_PORT', 7233),
    temporalUiPort: port(env, 'TEMPORAL_UI_PORT', 8233),
    temporalNamespace: env.TEMPORAL_NAMESPACE || 'default',
    stripeMock: env.STRIPE_SECRET_KEY
      ? undefined
      : { httpPort: port(env, 'STRIPE_MOCK_PORT', 12111), httpsPort: port(env, 'STRIPE_MOCK_HTTPS_PORT', 12112) },
    mailpit: env.SMTP_URL
      ? undefined
      : { smtpPort: port(env, 'MAILPIT_SMTP_PORT', 1025), httpPort: port(env, 'MAILPIT_PORT', 8025) },
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
  if (config.mailpit) {
    wanted.push([config.mailpit.smtpPort, 'Mailpit SMTP, MAILPIT_SMTP_PORT']);
    wanted.push([config.mailpit.httpPort, 'Mailpit web UI, MAILPIT_PORT']);
  }
  const errors: string[] = [];
  for (const [number, what] of wanted) {
    await assertPortFree(number, what, config.host).catch((error: Error) => errors.push(error.message));
  }
  if (errors.length > 0) throw new StartupError(errors.join('\n'));
}

/** A failure whose message is the whole story: printed without a stack trace. */
export class StartupError extends Error {}

async function ensureTools(signal: AbortSignal): Promise<{ temporal: string; stripeMock: string; mailpit: string }> {
  // One after the other: each `go install` takes minutes and gigabytes on a first run.
  const temporal = await ensureTool('temporal', { signal });
  const stripeMock = await ensureTool('stripe-mock', { signal });
  const mailpit = await ensureTool('mailpit', { signal });
  return { temporal, stripeMock, mailpit };
}

function tsxArgs(script: string): string[] {
  // `node --import tsx` rather than `npx tsx`: no npx lookup on every start, and one process per service instead of three.
  return ['--import', 'tsx', path.join(ROOT, script)];
}

async function generateDatabaseClients(): Promise<string> {
  const results = await generateClients();
  const generated = results.filter((result) => result.generated).map((result) => result.service);
  return generated.length > 0 ? `generated for ${generated.join(', ')}` : 'up to date';
}

async function prepareDatabases(
  config: StackConfig,
  signal: AbortSignal,
  onPostgres: (postgres: ResolvedPostgres) => void,
): Promise<Record<ServiceName, string> & { server: string }> {
  const postgresLog = processLog(config, 'postgres', false);
  const postgres = await resolvePostgres({
    dataDir: config.dataDir,
    onLog: (line) => postgresLog.write(line, 'stdout'),
  });
  onPostgres(postgres);
  signal.throwIfAborted();
  ready('PostgreSQL', `${postgres.source === 'embedded' ? 'embedded, ' : ''}${redactUrl(postgres.serverUrl)}`);
  const urls = await ensureDatabases(postgres.serverUrl);
  for (const service of SERVICES) await migrateDatabase(urls[service], service);
  // Imported here, not at the top: the seed uses the generated Prisma clients, which a fresh clone
  // only has once generateDatabaseClients has run.
  const { seedDemoData } = await import('./seed.js');
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
      ...(process.env.PAYLOAD_ENCRYPTION_KEYS?.trim()
        ? { uiCodecEndpoint: `http://${config.host}:${config.apiPort}/codec` }
        : {}),
    }),
    cwd: ROOT,
    quietOnStop: true,
    write: processLog(config, 'temporal', false).write,
  });
  await waitForPort(config.temporalPort, 'the Temporal dev server', { process: proc });
  await waitForTemporal(`127.0.0.1:${config.temporalPort}`, config.temporalNamespace, { process: proc });
  await waitForPort(config.temporalUiPort, 'the Temporal Web UI', { process: proc });
}

async function startStripeMock(supervisor: Supervisor, binary: string, config: StackConfig): Promise<void> {
  if (!config.stripeMock) return;
  const { httpPort, httpsPort } = config.stripeMock;
  const proc = supervisor.start({
    name: 'stripe-mock',
    command: binary,
    args: stripeMockArgs(httpPort, httpsPort),
    cwd: ROOT,
    write: processLog(config, 'stripe-mock', false).write,
  });
  await waitForStripeMock(`http://127.0.0.1:${httpPort}`, { process: proc });
}

async function startMailpit(supervisor: Supervisor, binary: string, config: StackConfig): Promise<void> {
  if (!config.mailpit) return;
  const { smtpPort, httpPort } = config.mailpit;
  const proc = supervisor.start({
    name: 'mailpit',
    command: binary,
    args: mailpitArgs(smtpPort, httpPort),
    cwd: ROOT,
    write: processLog(config, 'mailpit', false).write,
  });
  await waitForMailpit(`http://127.0.0.1:${httpPort}`, { process: proc });
}

function serviceEnv(
  config: StackConfig,
  databases: Record<ServiceName, string> & { server: string },
): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: databases.server,
    TEMPORAL_ADDRESS: `127.0.0.1:${config.temporalPort}`,
    TEMPORAL_NAMESPACE: config.temporalNamespace,
    PORT: String(config.apiPort),
    HOST: config.host,
    // The unsafe conveniences of the local stack, set here and never defaults of the app: dev tokens,
    // and a known secret so that sessions outlive a restart of `npm start`.
    ALLOW_DEV_TOKENS: process.env.ALLOW_DEV_TOKENS ?? 'true',
    JWT_SECRET: process.env.JWT_SECRET ?? LOCAL_JWT_SECRET,
    // The codec endpoint answers the Web UI this stack runs, on whatever port TEMPORAL_UI_PORT gave it.
    CODEC_CORS_ORIGINS:
      process.env.CODEC_CORS_ORIGINS ??
      `http://127.0.0.1:${config.temporalUiPort},http://localhost:${config.temporalUiPort}`,
  };
  Object.assign(env, databaseUrlEnv(databases));
  if (config.stripeMock) env.STRIPE_API_BASE = `http://127.0.0.1:${config.stripeMock.httpPort}`;
  if (config.mailpit) env.SMTP_URL = `smtp://127.0.0.1:${config.mailpit.smtpPort}`;
  // Links in the account mail (password reset, address verification) lead back to this dashboard.
  env.PUBLIC_URL = process.env.PUBLIC_URL ?? `http://${config.host}:${config.apiPort}`;
  return env;
}

async function startServices(supervisor: Supervisor, config: StackConfig, env: NodeJS.ProcessEnv): Promise<void> {
  const node = { command: process.execPath, cwd: ROOT, env };
  const worker = supervisor.start({
    name: 'worker',
    args: tsxArgs('worker.ts'),
    write: processLog(config, 'worker', true).write,
    ...node,
  });
  const api = supervisor.start({
    name: 'api',
    args: tsxArgs('api/server.ts'),
    write: processLog(config, 'api', true).write,
    ...node,
  });
  await Promise.all([
    waitForHttp(`http://${config.host}:${config.apiPort}/healthz`, 'the storefront API', { process: api }).then(() =>
      ready('API', `http://${config.host}:${config.apiPort}`),
    ),
    // worker.ts prints this once its workflow bundle is built and it starts polling.
    worker
      .waitForOutput(WORKER_READY_LINE, { timeoutMs: 120_000 })
      .then(() => ready('workers', 'polling every task queue')),
  ]);
}

const WORKER_READY_LINE = /\bworkers? polling\b/;

function printReady(config: StackConfig, seconds: number): void {
  const api = `http://${config.host}:${config.apiPort}`;
  const logs =
    config.logFormat === 'json'
      ? 'on this console (LOG_FORMAT=json)'
      : `${config.logsDir}/<part>.log (LOG_FORMAT=json prints them here)`;
  const lines = [
    '',
    `Storefront Sagas is running (ready in ${seconds.toFixed(1)}s):`,
    `  Dashboard     ${api}/`,
    `  API docs      ${api}/docs`,
    `  Demo sign-in  ${DEMO_ACCOUNTS.map((account) => account.email).join(', ')} (password ${DEMO_PASSWORD})`,
    `  Temporal UI   http://127.0.0.1:${config.temporalUiPort}`,
    `  Temporal gRPC 127.0.0.1:${config.temporalPort}`,
    ...(config.stripeMock ? [`  stripe-mock   http://127.0.0.1:${config.stripeMock.httpPort}`] : []),
    ...(config.mailpit
      ? [`  Mailpit       http://127.0.0.1:${config.mailpit.httpPort} (password reset and verification mail)`]
      : []),
    `  Logs          ${logs}`,
    '',
    'Try it:',
    `  1. Open ${api}/ and sign in as carol@example.com: she is at 130 of her 100 free builds, and her alerts are waiting.`,
    '  2. Order and pay from the dashboard, then find the order-<id> workflow in the Temporal UI.',
    `  3. Or from a shell: curl -s -X POST ${api}/v1/auth/signin -H 'content-type: application/json' -d '{"email":"alice@example.com","password":"${DEMO_PASSWORD}"}'`,
    '',
    'Press Ctrl-C to stop.',
    '',
  ];
  process.stdout.write(lines.join('\n'));
}

function log(message: string): void {
  process.stdout.write(`[stack] ${message}\n`);
}

const startedAt = Date.now();

/** One console line per part of the stack, as it becomes ready. */
function ready(part: string, detail: string): void {
  process.stdout.write(`  ready  ${part.padEnd(12)} ${detail}  (${((Date.now() - startedAt) / 1000).toFixed(1)}s)\n`);
}

const processLogs = new Map<string, ProcessLog>();

/** The log of one part of the stack; its last lines are printed when that part dies. */
function processLog(config: StackConfig, name: string, plainStderrIsError: boolean): ProcessLog {
  let opened = processLogs.get(name);
  if (!opened) {
    opened = openProcessLog({ dir: config.logsDir, name, format: config.logFormat, plainStderrIsError });
    processLogs.set(name, opened);
  }
  return opened;
}

/** Signals repeated this soon after the first are the same Ctrl-C relayed by npm or scripts/start.js, not a second one. */
const DUPLICATE_SIGNAL_WINDOW_MS = 1_500;

async function main(): Promise<void> {
  commandLineOrExit(
    `npm start: the whole stack on this machine (Temporal, stripe-mock, Mailpit, PostgreSQL, the workers and the API).
Its settings are environment variables (docs/configuration.md); Ctrl-C stops it.`,
    {},
    () => undefined,
  );
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
      await Promise.all([...processLogs.values()].map((opened) => opened.close()));
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
    const opened = processLogs.get(proc.name);
    log(
      `${proc.name} exited unexpectedly (${signal ?? `exit code ${code}`})${opened ? `; its last lines (all of them in ${opened.file}):` : ''}`,
    );
    for (const line of opened?.tail() ?? []) process.stdout.write(`  [${proc.name}] ${line}\n`);
    void stop(`${proc.name} exited`, 1);
  });

  try {
    await stopLeftovers(config.dataDir, log).catch((error: Error) => {
      throw new StartupError(error.message);
    });
    await checkPorts(config);
    process.stdout.write(`Starting Storefront Sagas (logs: ${config.logsDir})\n`);
    const tools = await ensureTools(aborter.signal);
    ready(
      'tools',
      [tools.temporal, tools.stripeMock, tools.mailpit].map((tool) => path.basename(path.dirname(tool))).join(', '),
    );
    mkdirSync(config.dataDir, { recursive: true });
    // The dev servers start while the databases are prepared: neither needs the other.
    supervisor.onStart(() => writeRunRecord(config.dataDir, supervisor.list()));
    const servers = Promise.all([
      startTemporal(supervisor, tools.temporal, config).then(() =>
        ready('Temporal', `127.0.0.1:${config.temporalPort}, Web UI on :${config.temporalUiPort}`),
      ),
      startStripeMock(supervisor, tools.stripeMock, config).then(() =>
        ready(
          'Stripe',
          config.stripeMock
            ? `stripe-mock on :${config.stripeMock.httpPort}`
            : 'the real API (STRIPE_SECRET_KEY is set)',
        ),
      ),
      startMailpit(supervisor, tools.mailpit, config).then(() =>
        ready(
          'mail',
          config.mailpit
            ? `Mailpit SMTP on :${config.mailpit.smtpPort}, web UI on :${config.mailpit.httpPort}`
            : 'SMTP_URL (set)',
        ),
      ),
    ]);
    servers.catch(() => undefined);
    const databases = (async () => {
      ready('clients', `Prisma clients ${await generateDatabaseClients()}`);
      aborter.signal.throwIfAborted();
      const urls = await prepareDatabases(config, aborter.signal, (resolved) => (postgres = resolved));
      ready('databases', `${SERVICES.length} migrated, demo data seeded`);
      return urls;
    })();
    // A stop while this is pending waits for it, so an embedded PostgreSQL that is starting still gets stopped.
    postgresPending = databases;
    const [urls] = await Promise.all([databases, servers]);
    aborter.signal.throwIfAborted();
    await startServices(supervisor, config, serviceEnv(config, urls));
    printReady(config, (Date.now() - startedAt) / 1000);
  } catch (error) {
    if (stopping) return; // a signal or a crash is already stopping the stack
    process.stderr.write(
      `\n${error instanceof StartupError ? error.message : ((error as Error).stack ?? String(error))}\n\n`,
    );
    await stop('startup failed', 1);
  }
}

if (require.main === module) void main();
