/**
 * The whole stack as real processes for a chaos run, on free ports and databases of its own:
 * a Temporal dev server persisted to a SQLite file (so it can be stopped and started again),
 * stripe-mock behind a recording proxy that can be cut, seven `chaos_*` PostgreSQL databases each
 * behind a TCP proxy that can be cut, and worker processes (harness/chaos/worker.ts: the worker
 * process of `worker.ts` with the probe that lets the driver SIGKILL them at an activity boundary).
 */
import type { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode } from '@temporalio/worker';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { createRunDatabases, dropDatabases, newRunId, runDatabaseNames } from '../databases';
import { SERVICES, type ServiceName } from '../../lib/services';
import {
  stripeMockArgs,
  temporalDevServerArgs,
  waitForStripeMock,
  waitForTemporal,
} from '../../scripts/lib/dev-servers';
import { freePort, waitForPort } from '../waits';
import { Supervisor, type SupervisedProcess } from '../supervisor';
import { ensureTool } from '../../scripts/lib/tools';
import { ALL_QUEUES } from '../../lib/workers';
import { openServices, type Services } from '../../services';
import { PAUSED_PREFIX, type ArmedBoundary, type PausedReport } from './boundaries';
import { INSUFFICIENT_FUNDS, isConfirm, startStripeProxy, type StripeProxy } from '../stripe-proxy';
import { CHAOS_DECLINING_METHOD } from './sagas';
import { startTcpProxy, type TcpProxy } from '../tcp-proxy';
import { SILENT_LOGGER } from '../../lib/logging';
import { connectClient, createClient, temporalSettingsFromEnv } from '../../lib/temporal-connection';

const ROOT = path.resolve(__dirname, '..', '..');
const CHAOS_WORKER = path.join(__dirname, 'worker.ts');
export const CHAOS_DATABASE_PREFIX = 'chaos_';
const NAMESPACE = 'default';
const WORKER_READY = /\bworkers? polling\b/;

export interface ChaosStackOptions {
  /** A PostgreSQL server URL (its `postgres` database); the run creates and drops its own databases on it. */
  serverUrl: string;
  /** Where the Temporal SQLite file and the workflow bundle go. */
  dataDir: string;
  log: (line: string) => void;
  /** Print the servers' and workers' own output. */
  verbose?: boolean;
  /** Keep the databases after the run, to look into a failure. */
  keep?: boolean;
}

export interface WorkerProcess {
  child: ChildProcess;
  pid: number;
  exited: Promise<void>;
  /** The last lines it printed, for failure messages. */
  output: string[];
  /** Resolves when it prints that its workers poll. */
  ready: Promise<void>;
}

function isAlive(worker: WorkerProcess): boolean {
  return worker.child.exitCode === null && worker.child.signalCode === null;
}

export class ChaosStack {
  readonly services: Services;
  readonly client: Client;
  /** Every boundary at which a worker paused, in order (the driver kills the worker there). */
  readonly pauses: Array<PausedReport & { at: number }> = [];
  workerKills = 0;
  temporalRestarts = 0;
  private worker: WorkerProcess | undefined;
  private standby: WorkerProcess | undefined;
  private readonly armed = new Map<string, ArmedBoundary>();
  private readonly pauseListeners = new Set<(report: PausedReport) => void>();
  private temporal: SupervisedProcess | undefined;
  private closed = false;

  private constructor(
    private readonly options: ChaosStackOptions,
    private readonly supervisor: Supervisor,
    readonly databaseNames: Record<ServiceName, string>,
    /** Direct URLs: what the driver reads and checks through, never cut. */
    readonly urls: Record<ServiceName, string>,
    readonly databaseProxies: Record<ServiceName, TcpProxy>,
    readonly stripe: StripeProxy,
    readonly temporalPort: number,
    private readonly temporalCli: string,
    private readonly temporalDb: string,
    private readonly connection: Connection,
    private readonly workerEnv: NodeJS.ProcessEnv,
  ) {
    this.services = openServices(urls, { stripeSecretKey: undefined, stripeApiBase: stripe.url });
    // A charge armed `atStripe`: stripe-mock charged, the answer is held, the worker is killed next.
    stripe.holdAnswer = (call) => {
      if (call.kind !== 'confirm' || !call.orderId) return false;
      const boundary = [...this.armed.values()].find((b) => b.phase === 'atStripe' && b.orderId === call.orderId);
      if (!boundary) return false;
      this.reportPause({ id: boundary.id, attempt: 0, pid: this.worker?.pid ?? 0 });
      return true;
    };
    this.client = createClient(connection, temporalSettingsFromEnv(workerEnv));
  }

  /** The pid of the worker process now running (the one a kill would hit). */
  get workerPid(): number | undefined {
    return this.worker && isAlive(this.worker) ? this.worker.pid : undefined;
  }

  get temporalAddress(): string {
    return `127.0.0.1:${this.temporalPort}`;
  }

  static async start(options: ChaosStackOptions): Promise<ChaosStack> {
    const { log } = options;
    mkdirSync(options.dataDir, { recursive: true });
    const supervisor = new Supervisor();
    const cleanups: Array<() => Promise<unknown>> = [() => supervisor.stopAll({ timeoutMs: 5_000 })];
    try {
      const [temporalCli, stripeMockBin] = await Promise.all([ensureTool('temporal'), ensureTool('stripe-mock')]);
      const output = options.verbose ? 'prefix' : 'ignore';

      // Databases of the run's own, created and migrated while the servers start.
      const runId = newRunId();
      const databaseNames = runDatabaseNames(CHAOS_DATABASE_PREFIX, runId);
      if (!options.keep) cleanups.push(() => dropDatabases(options.serverUrl, Object.values(databaseNames)));
      const databases = createRunDatabases(options.serverUrl, CHAOS_DATABASE_PREFIX, runId).then(
        (created) => created.urls,
      );

      const temporalPort = await freePort();
      const temporalDb = path.join(options.dataDir, 'temporal.db');
      const temporal = startTemporalProcess(supervisor, temporalCli, temporalPort, temporalDb, output);
      const stripeMock = (async () => {
        const [httpPort, httpsPort] = await Promise.all([freePort(), freePort()]);
        const proc = supervisor.start({
          name: 'stripe-mock',
          command: stripeMockBin,
          args: stripeMockArgs(httpPort, httpsPort),
          output,
        });
        const base = `http://127.0.0.1:${httpPort}`;
        await waitForStripeMock(base, { process: proc, timeoutMs: 60_000 });
        return base;
      })();
      // One bundle for every worker incarnation of the run (see worker.ts here).
      const bundle = (async () => {
        const { code } = await bundleWorkflowCode({
          workflowsPath: require.resolve('../../workflows'),
          logger: SILENT_LOGGER,
        });
        const file = path.join(options.dataDir, 'workflow-bundle.js');
        writeFileSync(file, code);
        return file;
      })();

      const begun = Date.now();
      const took: Record<string, string> = {};
      const timed = <T>(name: string, promise: Promise<T>) =>
        promise.then((value) => ((took[name] = `${((Date.now() - begun) / 1000).toFixed(1)}s`), value));
      const [urls, stripeBase, bundleFile] = await Promise.all([
        timed('databases', databases),
        timed('stripe-mock', stripeMock),
        timed('bundle', bundle),
        timed('temporal', waitForTemporalProcess(temporal, temporalPort)),
      ]);
      log(
        `chaos stack: Temporal 127.0.0.1:${temporalPort} (${temporalDb}), stripe-mock ${stripeBase}, databases ${CHAOS_DATABASE_PREFIX}${runId}_* (ready after ${JSON.stringify(took)})`,
      );

      // stripe-mock never declines: the proxy answers the chaos run's declining card as Stripe would.
      const stripe = await startStripeProxy({
        target: stripeBase,
        intercept: (request) =>
          isConfirm(request) && request.body.includes(`payment_method=${CHAOS_DECLINING_METHOD}`)
            ? INSUFFICIENT_FUNDS
            : undefined,
      });
      cleanups.push(() => stripe.close());
      const server = new URL(options.serverUrl);
      const databaseProxies = {} as Record<ServiceName, TcpProxy>;
      for (const service of SERVICES) {
        databaseProxies[service] = await startTcpProxy({ host: server.hostname, port: Number(server.port || 5432) });
        cleanups.push(() => databaseProxies[service].close());
      }

      const workerEnv: NodeJS.ProcessEnv = {
        ...process.env,
        TEMPORAL_ADDRESS: `127.0.0.1:${temporalPort}`,
        TEMPORAL_NAMESPACE: NAMESPACE,
        STRIPE_API_BASE: stripe.url,
        STRIPE_SECRET_KEY: '',
        CHAOS_WORKFLOW_BUNDLE: bundleFile,
        // Incarnations come and go quickly; a metrics port would only be contended.
        WORKER_METRICS_PORT: '0',
      };
      delete workerEnv.DATABASE_URL;
      for (const service of SERVICES) {
        const proxied = new URL(urls[service]);
        proxied.hostname = '127.0.0.1';
        proxied.port = String(databaseProxies[service].port);
        workerEnv[`${service.toUpperCase()}_DATABASE_URL`] = proxied.toString();
      }

      // The workers' own settings (and codec, when PAYLOAD_ENCRYPTION_KEYS is set), so the client reads what they write.
      const connection = await connectClient(temporalSettingsFromEnv(workerEnv));
      const stack = new ChaosStack(
        options,
        supervisor,
        databaseNames,
        urls,
        databaseProxies,
        stripe,
        temporalPort,
        temporalCli,
        temporalDb,
        connection,
        workerEnv,
      );
      stack.temporal = temporal;
      stack.cleanups = cleanups;
      return stack;
    } catch (error) {
      for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
      throw error;
    }
  }

  private cleanups: Array<() => Promise<unknown>> = [];

  // --- workers -------------------------------------------------------------------------------

  /**
   * Starts a worker process (all task queues, like `npm start`) and waits until it polls. The
   * process is usually the standby started after the previous one (see `spawnWorker`).
   */
  async startWorker(): Promise<WorkerProcess> {
    if (this.worker && isAlive(this.worker)) throw new Error('A chaos worker is already running');
    const worker = this.standby && isAlive(this.standby) ? this.standby : this.spawnWorker();
    this.standby = undefined;
    this.worker = worker;
    if (this.armed.size > 0) this.sendTo(worker, { arm: [...this.armed.values()] });
    this.sendTo(worker, { go: true });
    await Promise.race([
      worker.ready,
      worker.exited.then(() => {
        throw new Error(`The chaos worker exited before polling:\n${worker.output.join('\n')}`);
      }),
    ]);
    // The next incarnation loads while this one works, as a supervisor with a warm spare would.
    if (!this.closed) this.standby = this.spawnWorker();
    return worker;
  }

  /**
   * Spawns a worker process that loads everything (modules, Prisma clients, the Temporal
   * connection) and then waits, before creating its Temporal workers, for `{"go": true}` on stdin.
   * The probe is required (not imported): the SDK's workflow thread inherits these flags, and a
   * CommonJS preload after tsx's CommonJS hook loads there too.
   */
  private spawnWorker(): WorkerProcess {
    // Every queue but the reconciler's: the run checks the invariants itself, once the chaos is over.
    const queues = ALL_QUEUES.filter((queue) => queue !== 'reconciler').join(',');
    const child = spawn(process.execPath, ['--import', 'tsx', CHAOS_WORKER, '--services', queues], {
      cwd: ROOT,
      env: { ...this.workerEnv, CHAOS_WAIT_FOR_GO: '1' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const output: string[] = [];
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    let ready!: () => void;
    const isReady = new Promise<void>((resolve) => (ready = resolve));
    const worker: WorkerProcess = { child, pid: child.pid!, exited, output, ready: isReady };
    for (const stream of [child.stdout!, child.stderr!]) {
      readline.createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => {
        if (line.startsWith(PAUSED_PREFIX)) {
          this.reportPause(JSON.parse(line.slice(PAUSED_PREFIX.length)) as PausedReport);
          return;
        }
        if (output.push(line) > 200) output.shift();
        if (this.options.verbose) this.options.log(`[worker ${child.pid}] ${line}`);
        if (WORKER_READY.test(line)) ready();
      });
    }
    child.stdin!.on('error', () => undefined); // a killed worker's stdin
    return worker;
  }

  /** SIGKILLs the worker process and waits until it is gone. */
  async killWorker(): Promise<void> {
    const worker = this.worker;
    if (!worker || !isAlive(worker)) return;
    worker.child.kill('SIGKILL');
    await worker.exited;
    this.workerKills += 1;
  }

  /** Kills the worker with SIGKILL and starts its replacement, as a process supervisor would. */
  async killAndReplaceWorker(): Promise<void> {
    await this.killWorker();
    await this.startWorker();
  }

  /** Arms boundaries in the running worker and in every later incarnation, until each is reached once. */
  arm(boundaries: ArmedBoundary[]): void {
    for (const boundary of boundaries) this.armed.set(boundary.id, boundary);
    this.sendToWorker({ arm: boundaries });
  }

  disarm(ids: string[]): void {
    for (const id of ids) this.armed.delete(id);
    this.sendToWorker({ disarm: ids });
  }

  private reportPause(report: PausedReport): void {
    this.armed.delete(report.id);
    this.pauses.push({ ...report, at: Date.now() });
    for (const listener of this.pauseListeners) listener(report);
  }

  onPause(listener: (report: PausedReport) => void): () => void {
    this.pauseListeners.add(listener);
    return () => this.pauseListeners.delete(listener);
  }

  private sendToWorker(message: unknown): void {
    if (this.worker) this.sendTo(this.worker, message);
  }

  private sendTo(worker: WorkerProcess, message: unknown): void {
    const stdin = worker.child.stdin;
    if (stdin && !stdin.destroyed) stdin.write(`${JSON.stringify(message)}\n`);
  }

  // --- the Temporal server ---------------------------------------------------------------------

  /** Stops the dev server (SIGTERM, or SIGKILL), keeps it down for `downMs`, and starts it again on the same SQLite file and port. */
  async restartTemporal(options: { downMs: number; signal?: 'SIGTERM' | 'SIGKILL' }): Promise<void> {
    const old = this.temporal!;
    if (options.signal === 'SIGKILL') {
      process.kill(-old.pid, 'SIGKILL');
      await old.exited;
    } else {
      await this.supervisor.stop(['temporal'], { timeoutMs: 10_000 });
    }
    this.options.log(`chaos: Temporal stopped (${options.signal ?? 'SIGTERM'}), down for ${options.downMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, options.downMs));
    this.temporal = startTemporalProcess(
      this.supervisor,
      this.temporalCli,
      this.temporalPort,
      this.temporalDb,
      this.options.verbose ? 'prefix' : 'ignore',
    );
    await waitForTemporalProcess(this.temporal, this.temporalPort);
    this.temporalRestarts += 1;
    this.options.log('chaos: Temporal is back');
  }

  // --- teardown ------------------------------------------------------------------------------

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const worker of [this.worker, this.standby]) {
      if (worker && isAlive(worker)) {
        worker.child.kill('SIGKILL');
        await worker.exited;
      }
    }
    await this.connection.close().catch(() => undefined);
    await this.services.close().catch(() => undefined);
    for (const cleanup of [...this.cleanups].reverse())
      await cleanup().catch((error: Error) => this.options.log(`chaos cleanup: ${error.message}`));
  }
}

function startTemporalProcess(
  supervisor: Supervisor,
  cli: string,
  port: number,
  dbFilename: string,
  output: 'prefix' | 'ignore',
): SupervisedProcess {
  return supervisor.start({
    name: 'temporal',
    command: cli,
    args: temporalDevServerArgs({ port, dbFilename, logLevel: 'error' }),
    output,
    quietOnStop: true,
  });
}

async function waitForTemporalProcess(proc: SupervisedProcess, port: number): Promise<void> {
  await waitForPort(port, 'the Temporal dev server', { process: proc, timeoutMs: 60_000 });
  await waitForTemporal(`127.0.0.1:${port}`, NAMESPACE, { process: proc, timeoutMs: 60_000 });
}
