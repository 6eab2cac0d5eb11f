/**
 * The stack a benchmark run starts for itself: a Temporal dev server persisted to a SQLite file
 * (as `npm start` runs it) in a temporary folder, stripe-mock, six migrated `bench_<run>_<service>`
 * databases on the PostgreSQL `npm start` would use, and bench worker processes. All on free
 * ports on 127.0.0.1, so it never meets `npm start`'s or the tests' servers and databases.
 */
import type { Client, Connection } from '@temporalio/client';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { newRunId } from '../../harness/databases';
import { startStack, type Stack, type TemporalServerOptions as HarnessServerOptions } from '../../harness/stack';
import type { ProcessSpec, SupervisedProcess } from '../../devstack/supervisor';
import { freePort } from '../../devstack/ports';
import { waitForHttp } from '../../devstack/waits';
import { resolvePostgres, type ResolvedPostgres } from '../../devstack/postgres';
import type { ServiceName } from '../../lib/service-names';
import { connectClient, createClient, temporalSettingsFromEnv } from '../../temporal/connection';
import { ALL_QUEUES, type WorkerQueue } from '../../worker/workers';
import { generateClients } from '../../devstack/generate-clients';
import { STRIPE_MOCK_KEY } from '../../devstack/dev-servers';
import { openServices, type Services } from '../../services';
import { signToken } from './http';
import { MEMORY_DIR_ENV } from './memory';
import { READY_LINE, TUNING_ENV, type WorkerTuning } from './tuning';

const ROOT = path.resolve(__dirname, '..', '..');
export const BENCH_DATABASE_PREFIX = 'bench_';

/**
 * BENCH_CPU_PROF_DIR=<dir>: the API and worker processes write V8 CPU profiles there when they
 * stop (open them in Chrome DevTools); Node refuses --cpu-prof in NODE_OPTIONS, so it is passed here.
 */
const profileArgs = (): string[] =>
  process.env.BENCH_CPU_PROF_DIR ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF_DIR}`] : [];

const MEMORY_PROBE = path.join(ROOT, 'bench', 'lib', 'memory-probe.mjs');
/** Node's arguments for a bench API or worker process: tsx, the memory probe, a CPU profile when asked. */
const nodeArgs = (): string[] => [...profileArgs(), '--import', MEMORY_PROBE, '--import', 'tsx'];

/** The dev server's settings a benchmark compares (harness/stack.ts runs it). */
export interface TemporalServerOptions extends Pick<HarnessServerOptions, 'sqlitePragmas' | 'dynamicConfig'> {
  /** Keep the dev server's state in memory instead of a file (faster, lost on restart). */
  inMemory?: boolean;
}

export interface BenchStackOptions extends TemporalServerOptions {
  verbose?: boolean;
}

/** Every queue but the reconciler's: its Schedule would run the invariant checks in the middle of a measurement. */
export const BENCH_QUEUES: readonly WorkerQueue[] = ALL_QUEUES.filter((queue) => queue !== 'reconciler');

export interface BenchWorker {
  tuning: WorkerTuning;
  /** The stack's workerEnv when this process started. */
  extraEnv: Readonly<Record<string, string>>;
  /** The task queues this process polls (its `--services`). */
  queues: readonly WorkerQueue[];
  process: SupervisedProcess;
  /** The SDK's Prometheus endpoint of this process (`temporal_sticky_cache_size` and the rest). */
  metricsUrl: string;
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
  /** Where the API and worker processes' memory probes write (bench/lib/memory-probe.mjs). */
  memoryDir: string;
  client: Client;
  /** The services over the bench databases, for setting up data and checking outcomes. */
  services: Services;
  /** Pids to watch for CPU use (the dev server, stripe-mock, the first worker and all of them, the API). */
  pids(): { temporal?: number; stripeMock?: number; worker?: number; workers: number[]; api?: number };
  /** Starts one bench worker process on every queue with these settings (stopping those running) and waits until it polls. */
  startWorker(tuning: WorkerTuning): Promise<BenchWorker>;
  /**
   * Starts one worker process per entry of `layout`, each polling the queues it names, in place
   * of those running, and waits until all of them poll.
   */
  startWorkers(tuning: WorkerTuning, layout: ReadonlyArray<readonly WorkerQueue[]>): Promise<BenchWorker[]>;
  /** The running worker if it is the only one and has these settings, else a new one. */
  ensureWorker(tuning: WorkerTuning): Promise<BenchWorker>;
  /**
   * Extra environment for the worker processes started from now on (e.g. the activity profile's
   * folder); ensureWorker restarts a worker started with other extras.
   */
  workerEnv: Record<string, string>;
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
  const supervisorOutput = (line: string, stream: 'stdout' | 'stderr') => {
    if (options.verbose || stream === 'stderr') process.stderr.write(`${line}\n`);
  };
  let stack: Stack | undefined;
  let postgres: ResolvedPostgres | undefined;
  let connection: Connection | undefined;
  let services: Services | undefined;
  let currentWorkers: BenchWorker[] = [];
  const workerEnv: Record<string, string> = {};
  let currentApi: BenchApi | undefined;

  // Processes first (the worker before the servers it uses), then the databases and files;
  // this process's own connections last, so calls still in flight fail rather than hang.
  const stopEverything = async () => {
    await currentApi?.stop().catch(() => undefined);
    await Promise.all(currentWorkers.map((worker) => worker.stop().catch(() => undefined)));
    await services?.close().catch(() => undefined);
    await stack?.stop().catch(() => undefined);
    await postgres?.stop().catch(() => undefined);
    await connection?.close().catch(() => undefined);
  };

  try {
    await generateClients();
    postgres = await resolvePostgres();
    const serverUrl = postgres.serverUrl;
    stack = await startStack({
      temporal: harnessServer(options),
      databases: { serverUrl, prefix: BENCH_DATABASE_PREFIX, runId },
      // Bundled once per run: every worker process then starts in about a second instead of five.
      workflowsPath: path.join(ROOT, 'bench', 'workflows', 'index.ts'),
      verbose: options.verbose,
    });
    const { supervisor, temporal } = stack;
    const dbUrls = stack.databases!.urls;
    let temporalServer: TemporalServerOptions = {
      sqlitePragmas: options.sqlitePragmas,
      dynamicConfig: options.dynamicConfig,
      inMemory: options.inMemory,
    };

    const memoryDir = path.join(stack.dataDir, 'memory');
    mkdirSync(memoryDir, { recursive: true });
    // The settings the workers and the API get (env() below), codec included when encryption is on.
    const env = (): NodeJS.ProcessEnv => ({ ...stack!.env(), [MEMORY_DIR_ENV]: memoryDir });
    const settings = temporalSettingsFromEnv(env());
    connection = await connectClient(settings);
    const client = createClient(connection, settings);
    services = openServices(dbUrls, { stripeSecretKey: undefined, stripeApiBase: stack.stripe.apiBase });

    let workerCount = 0;
    const startWorkerProcess = async (tuning: WorkerTuning, queues: readonly WorkerQueue[]): Promise<BenchWorker> => {
      workerCount += 1;
      const extraEnv = { ...workerEnv };
      const name = `worker-${workerCount}`;
      // Metrics on, as in production (worker.ts serves them by default), each process on a port of its own.
      const metricsPort = await freePort();
      const proc = supervisor.start({
        name,
        command: process.execPath,
        args: [...nodeArgs(), path.join(ROOT, 'bench', 'worker.ts'), '--services', queues.join(',')],
        cwd: ROOT,
        // Only warnings and errors on its output.
        env: {
          ...env(),
          [TUNING_ENV]: JSON.stringify(tuning),
          WORKER_METRICS_PORT: String(metricsPort),
          LOG_LEVEL: 'warn',
          ...extraEnv,
        },
        output: 'prefix',
        write: supervisorOutput,
      });
      await proc.waitForOutput(new RegExp(READY_LINE), { timeoutMs: 120_000 });
      const worker: BenchWorker = {
        tuning,
        extraEnv,
        queues,
        process: proc,
        metricsUrl: `http://127.0.0.1:${metricsPort}/metrics`,
        stop: async () => {
          await supervisor.stop([name], { timeoutMs: 15_000 });
          currentWorkers = currentWorkers.filter((running) => running !== worker);
        },
      };
      return worker;
    };
    const startWorkers = async (
      tuning: WorkerTuning,
      layout: ReadonlyArray<readonly WorkerQueue[]>,
    ): Promise<BenchWorker[]> => {
      await Promise.all(currentWorkers.map((worker) => worker.stop()));
      currentWorkers = await Promise.all(layout.map((queues) => startWorkerProcess(tuning, queues)));
      return currentWorkers;
    };
    const startWorker = async (tuning: WorkerTuning): Promise<BenchWorker> =>
      (await startWorkers(tuning, [BENCH_QUEUES]))[0]!;

    return {
      runId,
      temporalCli: temporal.cli,
      temporalAddress: temporal.address,
      namespace: temporal.namespace,
      get temporalServer() {
        return temporalServer;
      },
      stripeApiBase: stack.stripe.apiBase,
      postgresUrl: serverUrl,
      databases: dbUrls,
      memoryDir,
      client,
      services,
      pids: () => ({
        temporal: temporal.process.pid,
        stripeMock: stack!.stripe.process.pid,
        worker: currentWorkers[0]?.process.pid,
        workers: currentWorkers.map((worker) => worker.process.pid).filter((pid): pid is number => pid !== undefined),
        api: currentApi?.process.pid,
      }),
      startWorker,
      startWorkers,
      workerEnv,
      async ensureWorker(tuning: WorkerTuning) {
        const [only, ...others] = currentWorkers;
        if (
          only &&
          others.length === 0 &&
          only.queues.length === BENCH_QUEUES.length &&
          JSON.stringify(only.tuning) === JSON.stringify(tuning) &&
          JSON.stringify(only.extraEnv) === JSON.stringify(workerEnv) &&
          !only.process.hasExited()
        )
          return only;
        return startWorker(tuning);
      },
      async startApi() {
        if (currentApi && !currentApi.process.hasExited()) return currentApi;
        const port = await freePort();
        const name = `api-${port}`;
        const proc = supervisor.start({
          name,
          command: process.execPath,
          args: [...nodeArgs(), path.join(ROOT, 'api', 'server.ts')],
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
          write: supervisorOutput,
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
        const running = currentWorkers;
        await Promise.all(running.map((worker) => worker.stop()));
        await temporal.stop();
        temporalServer = server;
        await temporal.start(harnessServer(server));
        if (running.length > 0)
          await startWorkers(
            running[0]!.tuning,
            running.map((worker) => worker.queues),
          );
      },
      env,
      stop: stopEverything,
    };
  } catch (error) {
    await stopEverything();
    throw error;
  }
}

/** The dev server as the harness runs it: persisted to a SQLite file, as `npm start` runs it, unless `inMemory`. */
function harnessServer(server: TemporalServerOptions): HarnessServerOptions {
  return {
    persist: !server.inMemory,
    ...(server.sqlitePragmas ? { sqlitePragmas: server.sqlitePragmas } : {}),
    ...(server.dynamicConfig ? { dynamicConfig: server.dynamicConfig } : {}),
  };
}

export { STRIPE_MOCK_KEY };
