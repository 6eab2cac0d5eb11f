/**
 * The API or a worker as its own process, as production runs it (`node dist/...`) or as
 * development does (`node --import tsx ...`): its output captured, its exit awaited, its
 * memory read from /proc. The one way the tests start `worker.ts` or `api/server.ts`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { databaseUrlEnv } from '../../lib/config';
import type { ServiceName } from '../../lib/service-names';
import { testNamespace, workflowBundle } from './temporal';

export const ROOT = path.resolve(__dirname, '../..');

export type Program = 'api' | 'worker';
export type Flavour = 'dist' | 'tsx';

const ENTRY: Record<Program, Record<Flavour, string>> = {
  api: { dist: 'dist/api/server.js', tsx: 'api/server.ts' },
  worker: { dist: 'dist/worker.js', tsx: 'worker.ts' },
};

export interface ServiceProcess {
  child: ChildProcess;
  startedAt: number;
  /** Standard output and error, as written. */
  output(): string;
  /** The complete lines written to standard output (a worker's JSON log lines). */
  stdoutLines(): string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves when the output contains `text`; rejects if the process exits first or after `timeoutMs`. */
  waitForOutput(text: string, timeoutMs?: number): Promise<void>;
  /** Resident memory in MiB (VmRSS), while it runs. */
  rssMiB(): number;
  stop(): Promise<void>;
}

export function startProgram(
  program: Program,
  flavour: Flavour,
  env: NodeJS.ProcessEnv,
  args: string[] = [],
): ServiceProcess {
  const entry = path.join(ROOT, ENTRY[program][flavour]);
  const argv = flavour === 'tsx' ? ['--import', 'tsx', entry, ...args] : [entry, ...args];
  const startedAt = Date.now();
  const child = spawn(process.execPath, argv, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let stdout = '';
  const listeners = new Set<() => void>();
  const append = (chunk: Buffer) => {
    output += chunk.toString();
    for (const listener of listeners) listener();
  };
  child.stdout!.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    append(chunk);
  });
  child.stderr!.on('data', append);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  let done = false;
  void exited.then(() => {
    done = true;
    for (const listener of listeners) listener();
  });

  return {
    child,
    startedAt,
    output: () => output,
    stdoutLines: () => stdout.split('\n').slice(0, -1),
    exited,
    waitForOutput(text, timeoutMs = 60_000) {
      return new Promise<void>((resolve, reject) => {
        const check = () => {
          if (output.includes(text)) finish();
          else if (done) finish(new Error(`${program} exited before printing "${text}":\n${output}`));
        };
        const timer = setTimeout(
          () => finish(new Error(`${program} did not print "${text}" within ${timeoutMs} ms:\n${output}`)),
          timeoutMs,
        );
        const finish = (error?: Error) => {
          clearTimeout(timer);
          listeners.delete(check);
          if (error) reject(error);
          else resolve();
        };
        listeners.add(check);
        check();
      });
    },
    rssMiB() {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      const kib = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
      return kib / 1024;
    },
    async stop() {
      if (done) return;
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/**
 * The environment of a worker process (or `npm run ops`) for this test: its databases, this Jest
 * worker's Temporal namespace, the run's workflow bundle (a worker that bundled for itself would
 * spend seconds of CPU on it) and Stripe as stripe-mock; `extra` wins.
 */
export function testProcessEnv(
  databaseUrls: Record<ServiceName, string>,
  extra: NodeJS.ProcessEnv = {},
): NodeJS.ProcessEnv {
  return {
    ...process.env,
    ...databaseUrlEnv(databaseUrls),
    WORKFLOW_BUNDLE: workflowBundle().codePath,
    TEMPORAL_NAMESPACE: testNamespace(),
    STRIPE_SECRET_KEY: '',
    ...extra,
  };
}
