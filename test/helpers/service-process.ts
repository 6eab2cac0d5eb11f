/**
 * The API or a worker as its own process, as production runs it (`node dist/...`) or as
 * development does (`node --import tsx ...`): its output captured, its exit awaited, its
 * memory read from /proc. For the production-profile and log tests.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';

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
  output(): string;
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
  const listeners = new Set<() => void>();
  const append = (chunk: Buffer) => {
    output += chunk.toString();
    for (const listener of listeners) listener();
  };
  child.stdout!.on('data', append);
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
