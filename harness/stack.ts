/**
 * The stack a test run, a benchmark run or a chaos run starts for itself: a Temporal dev server,
 * stripe-mock, optionally per-run PostgreSQL databases and one workflow bundle for every worker
 * process of the run. Everything listens on free ports on 127.0.0.1 and lives in a folder of its
 * own, so a run never meets `npm start`'s servers, databases or files, nor another run's.
 *
 * What differs between the three is an option, not a copy: the tests keep Temporal in memory
 * (nothing to clean, ready in a second) with a namespace per Jest worker; the benchmarks and the
 * chaos run persist it to a SQLite file, as `npm start` does, so it can be restarted under load.
 */
import { bundleWorkflowCode } from '@temporalio/worker';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { databaseUrlEnv } from '../lib/config';
import { SILENT_LOGGER } from '../lib/logging';
import {
  mailpitArgs,
  stripeMockArgs,
  temporalDevServerArgs,
  waitForMailpit,
  waitForStripeMock,
  waitForTemporal,
} from '../devstack/dev-servers';
import { ensureTool } from '../devstack/tools';
import { createRunDatabases, type RunDatabases } from './databases';
import { Supervisor, type ProcessSpec, type SupervisedProcess } from '../devstack/supervisor';
import { freePort } from '../devstack/ports';
import { waitForPort } from '../devstack/waits';

export const STACK_NAMESPACE = 'default';

/** How the dev server runs; the benchmarks compare settings by restarting it with others. */
export interface TemporalServerOptions {
  /** Keep the state in a SQLite file in the stack's folder (as `npm start` does), so a restart keeps it; else in memory. */
  persist?: boolean;
  /** Namespaces created at start, besides `default`. */
  namespaces?: string[];
  /** SQLite pragmas (`name=value`) beyond the ones `npm start` uses, e.g. `journal_mode=wal`. */
  sqlitePragmas?: string[];
  /** Dynamic config values (`key=value` as the CLI takes them) beyond `npm start`'s. */
  dynamicConfig?: string[];
}

export interface StackOptions {
  temporal?: TemporalServerOptions;
  /** Per-run databases `<prefix><runId>_<service>`, migrated while the servers start; none when absent. */
  databases?: {
    serverUrl: string;
    prefix: string;
    runId: string;
    /** Leave them after stop, to look into a failure. */ keep?: boolean;
  };
  /** A workflows module to bundle once into the stack's folder, so each worker process starts in a second. */
  workflowsPath?: string;
  /** The stack's folder (Temporal's SQLite file, the bundle); a temporary one, removed at stop, when absent. */
  dataDir?: string;
  /** Start Mailpit too (the tests read the account mail from its HTTP API). */
  mail?: boolean;
  /** Show the servers' own output. */
  verbose?: boolean;
  startTimeoutMs?: number;
}

/** Mailpit of a stack: where the API sends mail, and where a test reads it. */
export interface StackMail {
  smtpUrl: string;
  /** The web UI and its HTTP API (`/api/v1/messages`). */
  httpBase: string;
  binary: string;
  process: SupervisedProcess;
}

/** The dev server of a stack, which a run may stop and start again on the same port. */
export interface StackTemporal {
  readonly cli: string;
  readonly port: number;
  readonly address: string;
  readonly namespace: string;
  /** The settings it runs with now. */
  readonly server: TemporalServerOptions;
  readonly process: SupervisedProcess;
  /** Stops it: SIGTERM and a graceful stop, or SIGKILL as a crash. */
  stop(signal?: 'SIGTERM' | 'SIGKILL'): Promise<void>;
  /** Starts it again and waits until it answers: on the same state, or, with `server`, on a fresh file with those settings. */
  start(server?: TemporalServerOptions): Promise<void>;
}

export interface Stack {
  readonly dataDir: string;
  readonly supervisor: Supervisor;
  readonly temporal: StackTemporal;
  readonly stripe: { apiBase: string; httpsBase: string; binary: string; process: SupervisedProcess };
  readonly mail?: StackMail;
  readonly databases?: RunDatabases;
  /** The bundled workflow code (`workflowsPath`), for `workflowBundle: { codePath }`. */
  readonly workflowBundle?: string;
  /** The environment a worker or API process needs to run on this stack: Temporal, Stripe and the run's databases. */
  env(extra?: NodeJS.ProcessEnv): NodeJS.ProcessEnv;
  /** Stops every process the stack supervises, drops the run's databases and removes a temporary folder. */
  stop(): Promise<void>;
}

export async function startStack(options: StackOptions = {}): Promise<Stack> {
  const timeoutMs = options.startTimeoutMs ?? 60_000;
  const output: ProcessSpec['output'] = options.verbose ? 'prefix' : 'ignore';
  const ownDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? mkdtempSync(path.join(os.tmpdir(), 'storefront-stack-'));
  mkdirSync(dataDir, { recursive: true });
  const supervisor = new Supervisor();
  let databases: RunDatabases | undefined;
  const stop = async () => {
    await supervisor.stopAll({ timeoutMs: 5_000 });
    if (!options.databases?.keep) await databases?.drop().catch(() => undefined);
    if (ownDir) rmSync(dataDir, { recursive: true, force: true });
  };

  try {
    const [temporalCli, stripeBinary, mailpitBinary] = await Promise.all([
      ensureTool('temporal'),
      ensureTool('stripe-mock'),
      options.mail ? ensureTool('mailpit') : undefined,
    ]);
    const [temporal, stripe, mail, created, workflowBundle] = await Promise.all([
      startDevTemporal({ supervisor, cli: temporalCli, dataDir, output, timeoutMs }, options.temporal ?? {}),
      startStripeMock(supervisor, stripeBinary, output, timeoutMs),
      mailpitBinary ? startMailpit(supervisor, mailpitBinary, output, timeoutMs) : undefined,
      options.databases
        ? createRunDatabases(options.databases.serverUrl, options.databases.prefix, options.databases.runId)
        : undefined,
      options.workflowsPath ? bundleInto(dataDir, options.workflowsPath) : undefined,
    ]);
    databases = created;
    return {
      dataDir,
      supervisor,
      temporal,
      stripe: { ...stripe, binary: stripeBinary },
      mail,
      databases,
      workflowBundle,
      env: (extra = {}) => {
        const env: NodeJS.ProcessEnv = {
          ...process.env,
          TEMPORAL_ADDRESS: temporal.address,
          TEMPORAL_NAMESPACE: temporal.namespace,
          STRIPE_API_BASE: stripe.apiBase,
          // stripe-mock, never a real account, whatever the caller's shell has.
          STRIPE_SECRET_KEY: '',
          ...(mail ? { SMTP_URL: mail.smtpUrl } : {}),
          // The worker process runs the run's one bundle (worker/process.ts).
          ...(workflowBundle ? { WORKFLOW_BUNDLE: workflowBundle } : {}),
          ...(databases ? { DATABASE_URL: options.databases!.serverUrl, ...databaseUrlEnv(databases.urls) } : {}),
          ...extra,
        };
        return env;
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

interface DevTemporalContext {
  supervisor: Supervisor;
  cli: string;
  dataDir: string;
  output: ProcessSpec['output'];
  timeoutMs: number;
}

async function startDevTemporal(context: DevTemporalContext, initial: TemporalServerOptions): Promise<StackTemporal> {
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  let server = initial;
  let generation = 0;
  let proc: SupervisedProcess | undefined;

  const launch = async () => {
    const name = `temporal-${generation}`;
    proc = context.supervisor.start({
      name,
      command: context.cli,
      args: temporalDevServerArgs({
        port,
        logLevel: 'error',
        dbFilename: server.persist ? path.join(context.dataDir, `temporal-${generation}.db`) : undefined,
        namespaces: server.namespaces,
        sqlitePragmas: server.sqlitePragmas,
        dynamicConfig: server.dynamicConfig,
      }),
      output: context.output,
      quietOnStop: true,
    });
    await waitForPort(port, 'the Temporal dev server', { process: proc, timeoutMs: context.timeoutMs });
    await waitForTemporal(address, STACK_NAMESPACE, { process: proc, timeoutMs: context.timeoutMs });
  };
  await launch();

  return {
    cli: context.cli,
    port,
    address,
    namespace: STACK_NAMESPACE,
    get server() {
      return server;
    },
    get process() {
      return proc!;
    },
    async stop(signal = 'SIGTERM') {
      if (!proc || proc.hasExited()) return;
      if (signal === 'SIGKILL') {
        process.kill(-proc.pid, 'SIGKILL');
        await proc.exited;
      } else {
        await context.supervisor.stop([proc.name], { timeoutMs: 10_000 });
      }
    },
    async start(next) {
      if (proc && !proc.hasExited()) throw new Error('The Temporal dev server is still running: stop it first');
      if (next) {
        server = next;
        generation += 1;
      }
      await launch();
    },
  };
}

async function startStripeMock(
  supervisor: Supervisor,
  binary: string,
  output: ProcessSpec['output'],
  timeoutMs: number,
): Promise<{ apiBase: string; httpsBase: string; process: SupervisedProcess }> {
  const [httpPort, httpsPort] = await Promise.all([freePort(), freePort()]);
  const proc = supervisor.start({
    name: 'stripe-mock',
    command: binary,
    args: stripeMockArgs(httpPort, httpsPort),
    output,
  });
  const apiBase = `http://127.0.0.1:${httpPort}`;
  await waitForStripeMock(apiBase, { process: proc, timeoutMs });
  return { apiBase, httpsBase: `https://127.0.0.1:${httpsPort}`, process: proc };
}

async function startMailpit(
  supervisor: Supervisor,
  binary: string,
  output: ProcessSpec['output'],
  timeoutMs: number,
): Promise<StackMail> {
  const [smtpPort, httpPort] = await Promise.all([freePort(), freePort()]);
  const proc = supervisor.start({ name: 'mailpit', command: binary, args: mailpitArgs(smtpPort, httpPort), output });
  const httpBase = `http://127.0.0.1:${httpPort}`;
  await waitForMailpit(httpBase, { process: proc, timeoutMs });
  return { smtpUrl: `smtp://127.0.0.1:${smtpPort}`, httpBase, binary, process: proc };
}

async function bundleInto(dataDir: string, workflowsPath: string): Promise<string> {
  const { code } = await bundleWorkflowCode({ workflowsPath, logger: SILENT_LOGGER });
  const file = path.join(dataDir, 'workflow-bundle.js');
  writeFileSync(file, code);
  return file;
}
