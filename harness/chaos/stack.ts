/**
 * The whole stack as real processes for a chaos run: the run's stack (harness/stack.ts) with a
 * Temporal dev server persisted to a SQLite file (so it can be stopped and started again) and
 * seven `chaos_*` databases, plus stripe-mock behind a recording proxy that can be cut, each
 * database behind a TCP proxy that can be cut, and worker processes (harness/chaos/worker.ts: the worker
 * process of `worker.ts` with the probe that lets the driver SIGKILL them at an activity boundary).
 */
import type { Client, Connection } from '@temporalio/client';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import { databaseUrlEnv } from '../../lib/config';
import { SERVICES, type ServiceName } from '../../lib/service-names';
import { connectClient, createClient, temporalSettingsFromEnv } from '../../temporal/connection';
import { ALL_QUEUES } from '../../worker/workers';
import { openServices, type Services } from '../../services';
import { DEFAULT_DATABASE_POOL } from '../../lib/db/pool';
import { newRunId } from '../databases';
import { startStack, type Stack } from '../stack';
import { INSUFFICIENT_FUNDS, isConfirm, startStripeProxy, type StripeProxy } from '../stripe-proxy';
import { startTcpProxy, type TcpProxy } from '../tcp-proxy';
import { PAUSED_PREFIX, type ArmedBoundary, type PausedReport } from './boundaries';
import { CHAOS_DECLINING_METHOD } from './sagas';

const ROOT = path.resolve(__dirname, '..', '..');
const CHAOS_WORKER = path.join(__dirname, 'worker.ts');
/** Connections per service pool in each chaos process (the default is 10). */
const CHAOS_POOL_MAX = 4;
export const CHAOS_DATABASE_PREFIX = 'chaos_';
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
  private closed = false;

  private constructor(
    private readonly options: ChaosStackOptions,
    /** The servers, the databases and the bundle (harness/stack.ts). */
    private readonly base: Stack,
    /** Direct URLs: what the driver reads and checks through, never cut. */
    readonly urls: Record<ServiceName, string>,
    readonly databaseProxies: Record<ServiceName, TcpProxy>,
    readonly stripe: StripeProxy,
    private readonly connection: Connection,
    private readonly workerEnv: NodeJS.ProcessEnv,
    private readonly cleanups: Array<() => Promise<unknown>>,
  ) {
    this.services = openServices(urls, {
      stripeSecretKey: undefined,
      stripeApiBase: stripe.url,
      databasePool: { ...DEFAULT_DATABASE_POOL, max: CHAOS_POOL_MAX },
    });
    // A charge or a refund after the sale armed `atStripe`: stripe-mock acted, the answer is held,
    // the worker is killed next. (A refund after the sale carries its refund's key; the checkout's
    // own refund-or-cancel is not one.)
    stripe.holdAnswer = (call) => {
      if (!call.orderId) return false;
      const activity =
        call.kind === 'confirm'
          ? 'chargePayment'
          : call.kind === 'refund' && call.idempotencyKey?.startsWith('refund:')
            ? 'refundAtStripe'
            : undefined;
      if (!activity) return false;
      const boundary = [...this.armed.values()].find(
        (b) => b.phase === 'atStripe' && b.activity === activity && b.orderId === call.orderId,
      );
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

  get databaseNames(): Record<ServiceName, string> {
    return this.base.databases!.names;
  }

  static async start(options: ChaosStackOptions): Promise<ChaosStack> {
    const { log } = options;
    const cleanups: Array<() => Promise<unknown>> = [];
    try {
      const runId = newRunId();
      const begun = Date.now();
      // Temporal in a SQLite file, so it can be stopped and started again; one bundle for every worker incarnation of the run (see worker.ts here).
      const base = await startStack({
        temporal: { persist: true },
        databases: { serverUrl: options.serverUrl, prefix: CHAOS_DATABASE_PREFIX, runId, keep: options.keep },
        workflowsPath: require.resolve('../../workflows'),
        dataDir: options.dataDir,
        verbose: options.verbose,
      });
      cleanups.push(() => base.stop());
      const urls = base.databases!.urls;
      log(
        `chaos stack: Temporal ${base.temporal.address} (${options.dataDir}), stripe-mock ${base.stripe.apiBase}, databases ${CHAOS_DATABASE_PREFIX}${runId}_* (ready after ${((Date.now() - begun) / 1000).toFixed(1)} s)`,
      );

      // stripe-mock never declines: the proxy answers the chaos run's declining card as Stripe would.
      const stripe = await startStripeProxy({
        target: base.stripe.apiBase,
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

      const workerEnv = base.env({
        STRIPE_API_BASE: stripe.url,
        // Incarnations come and go quickly; a metrics port would only be contended.
        WORKER_METRICS_PORT: '0',
        // Two incarnations live at once (the warm standby) beside the driver and another test file:
        // small pools keep them all within a default PostgreSQL's 100 connections.
        DB_POOL_MAX: String(CHAOS_POOL_MAX),
      });
      // Only through the proxies below, which the driver can cut.
      delete workerEnv.DATABASE_URL;
      Object.assign(
        workerEnv,
        databaseUrlEnv(
          Object.fromEntries(SERVICES.map((service) => [service, viaProxy(urls[service], databaseProxies[service])])),
        ),
      );

      // The workers' own settings (and codec, when PAYLOAD_ENCRYPTION_KEYS is set), so the client reads what they write.
      const connection = await connectClient(temporalSettingsFromEnv(workerEnv));
      return new ChaosStack(options, base, urls, databaseProxies, stripe, connection, workerEnv, cleanups);
    } catch (error) {
      for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
      throw error;
    }
  }

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

  /** Lets the activities held at these boundaries in the running worker go on, and holds nothing more there. */
  release(ids: string[]): void {
    for (const id of ids) this.armed.delete(id);
    this.sendToWorker({ release: ids });
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
    await this.base.temporal.stop(options.signal);
    this.options.log(`chaos: Temporal stopped (${options.signal ?? 'SIGTERM'}), down for ${options.downMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, options.downMs));
    await this.base.temporal.start();
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

/** The database URL as the workers reach it: through the proxy the driver can cut. */
function viaProxy(url: string, proxy: TcpProxy): string {
  const proxied = new URL(url);
  proxied.hostname = '127.0.0.1';
  proxied.port = String(proxy.port);
  return proxied.toString();
}
