/** A small process supervisor for the launcher (npm start), the tests, the benchmarks and the chaos run: start, wait until ready, stop whole trees. */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import readline from 'node:readline';
import { listProcesses } from './process-table';
import { ExitedBeforeError, sleep, waitUntil, type WaitOptions } from './waits';

export interface ProcessSpec {
  /** Short name used as the output prefix and in messages. */
  name: string;
  command: string;
  args?: string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Print the child's output with a `[name]` prefix (default), or drop it. */
  output?: 'prefix' | 'ignore';
  /** Where prefixed output goes (default: this process's stdout/stderr). */
  write?: (line: string, stream: 'stdout' | 'stderr') => void;
  /** Drop the output once stopping begins (servers that log every refused dial while they shut down). */
  quietOnStop?: boolean;
}

export interface SupervisedProcess {
  name: string;
  pid: number;
  child: ChildProcess;
  /** Settles when the process has exited, with its exit code or signal. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  hasExited(): boolean;
  /** Set when the supervisor begins stopping it. */
  stopRequested: boolean;
  /** Resolves at the first output line matching `pattern` (e.g. a worker's "polling" line). */
  waitForOutput(pattern: RegExp, options?: WaitOptions): Promise<void>;
}

export interface StopOptions {
  /** How long a group gets after SIGTERM before SIGKILL. */
  timeoutMs?: number;
}

const DEFAULT_STOP_TIMEOUT_MS = 10_000;
const RECENT_LINES = 200;

/**
 * Starts children each in their own process group (detached), so that stopping one also stops
 * everything it spawned (npx → tsx → node, temporal's own helpers), and so that a terminal's
 * Ctrl-C reaches only the supervisor, which then stops the children in a chosen order.
 */
export class Supervisor {
  private readonly processes: SupervisedProcess[] = [];
  private readonly exitListeners: Array<
    (proc: SupervisedProcess, code: number | null, signal: NodeJS.Signals | null) => void
  > = [];
  private readonly startListeners: Array<(proc: SupervisedProcess) => void> = [];
  private stopping = false;

  start(spec: ProcessSpec): SupervisedProcess {
    if (this.stopping) throw new Error(`Not starting ${spec.name}: the supervisor is stopping`);
    const child = spawn(spec.command, spec.args ?? [], {
      cwd: spec.cwd,
      env: spec.env ?? process.env,
      detached: true,
      stdio: ['ignore', spec.output === 'ignore' ? 'ignore' : 'pipe', spec.output === 'ignore' ? 'ignore' : 'pipe'],
    });
    if (child.pid === undefined) {
      // spawn reports ENOENT and the like asynchronously; make it a synchronous, named error.
      throw new Error(`Could not start ${spec.name} (${spec.command})`);
    }
    const write = spec.write ?? defaultWrite;
    const patterns = new Set<RegExp>();
    const seen = new Set<RegExp>();
    // Kept so a wait that begins after its line was printed still sees it.
    const recent: string[] = [];
    let openStreams = 0;
    for (const stream of ['stdout', 'stderr'] as const) {
      const readable = child[stream];
      if (!readable) continue;
      openStreams += 1;
      readable.once('close', () => (openStreams -= 1));
      readline.createInterface({ input: readable, crlfDelay: Infinity }).on('line', (line) => {
        if (recent.push(line) > RECENT_LINES) recent.shift();
        if (patterns.size > 0) for (const pattern of patterns) if (pattern.test(line)) seen.add(pattern);
        if (!(spec.quietOnStop && proc.stopRequested)) write(`[${spec.name}] ${line}`, stream);
      });
    }
    let done = false;
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      child.on('error', (error) => write(`[${spec.name}] ${error.message}`, 'stderr'));
      child.on('exit', (code, signal) => {
        done = true;
        resolve({ code, signal });
        if (!this.stopping && !proc.stopRequested)
          for (const listener of this.exitListeners) listener(proc, code, signal);
      });
    });
    const proc: SupervisedProcess = {
      name: spec.name,
      pid: child.pid,
      child,
      exited,
      hasExited: () => done,
      stopRequested: false,
      waitForOutput: async (pattern, options = {}) => {
        if (recent.some((line) => pattern.test(line))) return;
        patterns.add(pattern);
        try {
          await waitUntil(
            `${spec.name} to print ${pattern}`,
            async () => {
              if (seen.has(pattern)) return true;
              // Its last lines may still be on their way after the exit: give up once its output has ended too.
              if (done && openStreams === 0) {
                const { code, signal } = await exited;
                throw new ExitedBeforeError(
                  `${spec.name} exited (${signal ?? `code ${code}`}) before printing ${pattern}`,
                );
              }
              return false;
            },
            options,
          );
        } finally {
          patterns.delete(pattern);
        }
      },
    };
    this.processes.push(proc);
    for (const listener of this.startListeners) listener(proc);
    return proc;
  }

  /** Called after each child starts (the launcher records what it started). */
  onStart(listener: (proc: SupervisedProcess) => void): void {
    this.startListeners.push(listener);
  }

  /** Called when a child exits while the supervisor is not stopping it (a crash, or a bad flag). */
  onUnexpectedExit(
    listener: (proc: SupervisedProcess, code: number | null, signal: NodeJS.Signals | null) => void,
  ): void {
    this.exitListeners.push(listener);
  }

  list(): readonly SupervisedProcess[] {
    return this.processes;
  }

  /** Stops the named processes together: SIGTERM to each group, then SIGKILL to groups still alive after the timeout. */
  async stop(names: string[], options: StopOptions = {}): Promise<void> {
    const targets = this.processes.filter((proc) => names.includes(proc.name));
    await Promise.all(targets.map((proc) => stopGroup(proc, options.timeoutMs ?? DEFAULT_STOP_TIMEOUT_MS)));
  }

  /** Stops everything still running, newest first in one go. Safe to call more than once. */
  async stopAll(options: StopOptions = {}): Promise<void> {
    this.stopping = true;
    await Promise.all(
      [...this.processes].reverse().map((proc) => stopGroup(proc, options.timeoutMs ?? DEFAULT_STOP_TIMEOUT_MS)),
    );
  }

  /** Last resort (a second Ctrl-C, or the launcher itself failing): SIGKILL every group now, synchronously. */
  killAll(): void {
    this.stopping = true;
    for (const proc of this.processes) signalGroup(proc.pid, 'SIGKILL');
  }
}

function defaultWrite(line: string, stream: 'stdout' | 'stderr'): void {
  (stream === 'stdout' ? process.stdout : process.stderr).write(`${line}\n`);
}

async function stopGroup(proc: SupervisedProcess, timeoutMs: number): Promise<void> {
  // The leader may be gone while its group lives on (a grandchild that ignored the leader's exit), so the
  // group is signalled even then, and waited for until it is empty.
  proc.stopRequested = true;
  signalGroup(proc.pid, 'SIGTERM');
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.hasExited() && !groupAlive(proc.pid)) return;
    await sleep(50);
  }
  signalGroup(proc.pid, 'SIGKILL');
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([proc.exited, new Promise((resolve) => (timer = setTimeout(resolve, 2_000)))]);
  clearTimeout(timer);
  while (groupAlive(proc.pid) && Date.now() < deadline + 5_000) await sleep(50);
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  // kill(0) also counts zombies, which an init that does not reap would keep forever; ask /proc where it exists.
  if (!existsSync('/proc/self/stat')) return true;
  return listProcesses().some((info) => info.pgid === pgid && info.state !== 'Z');
}
