/**
 * The stack a benchmark run starts for itself: a Temporal dev server persisted to a SQLite file
 * (as `npm start` runs it) in a temporary folder, stripe-mock, six migrated `bench_<run>_<service>`
 * databases on the PostgreSQL `npm start` would use, and bench worker processes. All on free
 * ports on 127.0.0.1, so it never meets `npm start`'s or the tests' servers and databases.
 */
import type { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode } from '@temporalio/worker';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRunDatabases, dropDatabases, newRunId, runDatabaseNames } from '../../harness/databases';
import { resolvePostgres, type ResolvedPostgres } from '../../lib/db/postgres';
import { SERVICES, type ServiceName } from '../../lib/services';
import { generateClients } from '../../scripts/generate-clients';
import {
  STRIPE_MOCK_KEY,
  stripeMockArgs,
  temporalDevServerArgs,
  waitForStripeMock,
  waitForTemporal,
} from '../../scripts/lib/dev-servers';
import { Supervisor, type ProcessSpec, type SupervisedProcess } from '../../harness/supervisor';
import { freePort, waitForHttp, waitForPort } from '../../harness/waits';
import { signToken } from './http';
import { ensureTool } from '../../scripts/lib/tools';
import { openServices, type Services } from '../../services';
import { ALL_QUEUES } from '../../lib/workers';
import { BUNDLE_ENV, READY_LINE, TUNING_ENV, type WorkerTuning } from './tuning';
import { SILENT_LOGGER } from '../../lib/logging';
import { connectClient, createClient, temporalSettingsFromEnv } from '../../lib/temporal-connection';

const ROOT = path.resolve(__dirname, '..', '..');
export const BENCH_DATABASE_PREFIX = 'bench_';
const NAMESPACE = 'default';
/** Databases of bench runs that died without cleaning up, dropped by a later run. */

export interface TemporalServerOptions {
  /** SQLite pragmas (`name=value`) for the dev server's persistence, e.g. `journal_mode=wal`. */
  sqlitePragmas?: string[];
  /** Dynamic config values (`key=value` as the CLI takes them). */
  dynamicConfig?: string[];
  /** Keep the dev server's state in memory instead of a file (faster, lost on restart). */
  inMemory?: boolean;
}

export interface BenchStackOptions extends TemporalServerOptions {
  verbose?: boolean;
}

export interface BenchWorker {
  tuning: WorkerTuning;
  process: SupervisedProcess;
  stop(): Promise<void>;
}

export interface BenchApi {
  baseUrl: string;
  process: SupervisedProcess;
  /** A bearer token for `userId`, signed with the API's secret (no dev-token round trip, no rate limit). */
  token(userId: string, role?: 'user' | 'admin'): string;
  stop(): Promise<void>;
}

/** The JWT secret of the API the benchmarks start. */
export const BENCH_JWT_SECRET = 'bench-jwt-secret-not-for-production';

export interface BenchStack {
  runId: string;
  temporalCli: string;
  temporalAddress: string;
  namespace: string;
  temporalServer: TemporalServerOptions;
  stripeApiBase: string;
  postgresUrl: string;
  databases: Record<ServiceName, string>;
  client: Client;
  /** The services over the bench databases, for setting up data and checking outcomes. */
  services: Services;
  /** Pids to watch for CPU use (the dev server, stripe-mock, the current worker). */
  pids(): { temporal?: number; stripeMock?: number; worker?: number; api?: number };
  /** Starts a bench worker process with these settings (stopping the one running) and waits until it polls. */
  startWorker(tuning: WorkerTuning): Promise<BenchWorker>;
  /** The running worker if it has these settings, else a new one. */
  ensureWorker(tuning: WorkerTuning): Promise<BenchWorker>;
  /** Starts the storefront API (api/server.ts) as a process on a free port, over the bench stack. */
  startApi(): Promise<BenchApi>;
  /** Starts another process under the stack's supervision (stopped with the stack). */
  startProcess(spec: ProcessSpec): SupervisedProcess;
  stopProcess(proc: SupervisedProcess): Promise<void>;
  /** Stops the dev server and starts a new one on a fresh SQLite file with other settings. */
  restartTemporal(options: TemporalServerOptions): Promise<void>;
  /** Environment for processes that use the stack (workers, the API). */
  env(): NodeJS.ProcessEnv;
  stop(): Promise<void>;
}

export async function startBenchStack(options: BenchStackOptions = {}): Promise<BenchStack> {
  const runId = newRunId();
  const databaseNames = runDatabaseNames(BENCH_DATABASE_PREFIX, runId);
  const output = options.verbose ? 'prefix' : 'ignore';
  const supervisor = new Supervisor();
  const workDir = mkdtempSync(path.join(os.tmpdir(), 'storefront-bench-'));
  let postgres: ResolvedPostgres | undefined;
  let connection: Connection | undefined;
  let services: Services | undefined;
  let temporalProc: SupervisedProcess | undefined;
  let temporalGeneration = 0;
  let currentWorker: BenchWorker | undefined;
  let currentApi: BenchApi | undefined;

  // Processes first (the worker before the servers it uses), then the databases and files;
  // this process's own connections last, so calls still in flight fail rather than hang.
  const stopEverything = async () => {
    await currentApi?.stop().catch(() => undefined);
    await currentWorker?.stop().catch(() => undefined);
    await supervisor.stopAll({ timeoutMs: 5_000 });
    await services?.close().catch(() => undefined);
    if (postgres) await dropDatabases(postgres.serverUrl, Object.values(databaseNames)).catch(() => undefined);
    await postgres?.stop().catch(() => undefined);
    rmSync(workDir, { recursive: true, force: true });
    await connection?.close().catch(() => undefined);
  };

  try {
    const [temporalCli, stripeMock] = await Promise.all([ensureTool('temporal'), ensureTool('stripe-mock')]);
    await generateClients();
    postgres = await resolvePostgres();
    const serverUrl = postgres.serverUrl;

    const temporalPort = await freePort();
    const temporalAddress = `127.0.0.1:${temporalPort}`;
    let temporalServer: TemporalServerOptions = {
      sqlitePragmas: options.sqlitePragmas,
      dynamicConfig: options.dynamicConfig,
      inMemory: options.inMemory,
    };
    const startTemporal = async (server: TemporalServerOptions) => {
      temporalGeneration += 1;
      const dbFilename = server.inMemory ? undefined : path.join(workDir, `temporal-${temporalGeneration}.db`);
      const args = [
        ...temporalDevServerArgs({ port: temporalPort, dbFilename, logLevel: 'error' }),
        ...(server.sqlitePragmas ?? []).flatMap((pragma) => ['--sqlite-pragma', pragma]),
        ...(server.dynamicConfig ?? []).flatMap((value) => ['--dynamic-config-value', value]),
        '--headless',
      ];
      const name = `temporal-${temporalGeneration}`;
      temporalProc = supervisor.start({
        name,
        command: temporalCli,
        args: dedupeHeadless(args),
        output,
        quietOnStop: true,
      });
      await waitForPort(temporalPort, 'the Temporal dev server', { process: temporalProc, timeoutMs: 60_000 });
      await waitForTemporal(temporalAddress, NAMESPACE, { process: temporalProc, timeoutMs: 60_000 });
    };

    const stripePorts = await Promise.all([freePort(), freePort()]);
    const stripeProc = supervisor.start({
      name: 'stripe-mock',
      command: stripeMock,
      args: stripeMockArgs(stripePorts[0], stripePorts[1]),
      output,
    });
    const stripeApiBase = `http://127.0.0.1:${stripePorts[0]}`;

    const [, , created] = await Promise.all([
      startTemporal(temporalServer),
      waitForStripeMock(stripeApiBase, { process: stripeProc, timeoutMs: 60_000 }),
      createRunDatabases(serverUrl, BENCH_DATABASE_PREFIX, runId),
    ]);
    const dbUrls = created.urls;

    // The settings the workers and the API get (env() below), codec included when encryption is on.
    const temporal = temporalSettingsFromEnv({
      ...process.env,
      TEMPORAL_ADDRESS: temporalAddress,
      TEMPORAL_NAMESPACE: NAMESPACE,
    });
    connection = await connectClient(temporal);
    const client = createClient(connection, temporal);
    services = openServices(dbUrls, { stripeSecretKey: undefined, stripeApiBase });

    // Bundled once per run: every worker process then starts in about a second instead of five.
    const bundlePath = path.join(workDir, 'workflow-bundle.js');
    const bundle = await bundleWorkflowCode({
      workflowsPath: path.join(ROOT, 'bench', 'workflows', 'index.ts'),
      logger: SILENT_LOGGER,
    });
    writeFileSync(bundlePath, bundle.code);

    const env = (): NodeJS.ProcessEnv => {
      const result: NodeJS.ProcessEnv = {
        ...process.env,
        TEMPORAL_ADDRESS: temporalAddress,
        TEMPORAL_NAMESPACE: NAMESPACE,
        STRIPE_API_BASE: stripeApiBase,
        STRIPE_SECRET_KEY: '',
        DATABASE_URL: serverUrl,
        [BUNDLE_ENV]: bundlePath,
      };
      for (const service of SERVICES) result[`${service.toUpperCase()}_DATABASE_URL`] = dbUrls[service];
      return result;
    };

    let workerCount = 0;
    const startWorker = async (tuning: WorkerTuning): Promise<BenchWorker> => {
      await currentWorker?.stop();
      workerCount += 1;
      const name = `worker-${workerCount}`;
      const proc = supervisor.start({
        name,
        command: process.execPath,
        // Every queue but the reconciler's: its Schedule would run the invariant checks in the middle of a measurement.
        args: [
          '--import',
          'tsx',
          path.join(ROOT, 'bench', 'worker.ts'),
          '--services',
          ALL_QUEUES.filter((queue) => queue !== 'reconciler').join(','),
        ],
        cwd: ROOT,
        // No metrics port (one worker follows another), and only warnings and errors on its output.
        env: { ...env(), [TUNING_ENV]: JSON.stringify(tuning), WORKER_METRICS_PORT: '0', LOG_LEVEL: 'warn' },
        output: 'prefix',
        write: (line, stream) => {
          if (options.verbose || stream === 'stderr') process.stderr.write(`${line}\n`);
        },
      });
      await proc.waitForOutput(new RegExp(READY_LINE), { timeoutMs: 120_000 });
      const worker: BenchWorker = {
        tuning,
        process: proc,
        stop: async () => {
          await supervisor.stop([name], { timeoutMs: 15_000 });
          if (currentWorker === worker) currentWorker = undefined;
        },
      };
      currentWorker = worker;
      return worker;
    };

    return {
      runId,
      temporalCli,
      temporalAddress,
      namespace: NAMESPACE,
      get temporalServer() {
        return temporalServer;
      },
      stripeApiBase,
      postgresUrl: serverUrl,
      databases: dbUrls,
      client,
      services,
      pids: () => ({
        temporal: temporalProc?.pid,
        stripeMock: stripeProc.pid,
        worker: currentWorker?.process.pid,
        api: currentApi?.process.pid,
      }),
      startWorker,
      async ensureWorker(tuning: WorkerTuning) {
        if (
          currentWorker &&
          JSON.stringify(currentWorker.tuning) === JSON.stringify(tuning) &&
          !currentWorker.process.hasExited()
        )
          return currentWorker;
        return startWorker(tuning);
      },
      async startApi() {
        if (currentApi && !currentApi.process.hasExited()) return currentApi;
        const port = await freePort();
        const name = `api-${port}`;
        const proc = supervisor.start({
          name,
          command: process.execPath,
          args: ['--import', 'tsx', path.join(ROOT, 'api', 'server.ts')],
          cwd: ROOT,
          env: {
            ...env(),
            PORT: String(port),
            HOST: '127.0.0.1',
            JWT_SECRET: BENCH_JWT_SECRET,
            LOG_LEVEL: 'warn',
            ALLOW_DEV_TOKENS: 'true',
            ORDER_TTL_SECONDS: '900',
          },
          output: 'prefix',
          write: (line, stream) => {
            if (options.verbose || stream === 'stderr') process.stderr.write(`${line}\n`);
          },
        });
        const baseUrl = `http://127.0.0.1:${port}`;
        await waitForHttp(`${baseUrl}/healthz`, 'the storefront API', { process: proc, timeoutMs: 60_000 });
        const api: BenchApi = {
          baseUrl,
          process: proc,
          token: (userId, role = 'user') => signToken({ sub: userId, role }, BENCH_JWT_SECRET),
          stop: async () => {
            await supervisor.stop([name], { timeoutMs: 10_000 });
            if (currentApi === api) currentApi = undefined;
          },
        };
        currentApi = api;
        return api;
      },
      startProcess: (spec: ProcessSpec) => supervisor.start(spec),
      stopProcess: (proc: SupervisedProcess) => supervisor.stop([proc.name], { timeoutMs: 5_000 }),
      async restartTemporal(server: TemporalServerOptions) {
        const tuning = currentWorker?.tuning;
        await currentWorker?.stop();
        await supervisor.stop([`temporal-${temporalGeneration}`], { timeoutMs: 10_000 });
        temporalServer = server;
        await startTemporal(server);
        if (tuning) await startWorker(tuning);
      },
      env,
      stop: stopEverything,
    };
  } catch (error) {
    await stopEverything();
    throw error;
  }
}

/** temporalDevServerArgs adds `--headless` when no UI port is given; never pass it twice. */
function dedupeHeadless(args: string[]): string[] {
  const first = args.indexOf('--headless');
  return args.filter((arg, index) => arg !== '--headless' || index === first);
}

export { STRIPE_MOCK_KEY };
