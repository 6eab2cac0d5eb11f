/** A small process supervisor for the launcher and the test infrastructure: start, wait until ready, stop whole trees. */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import readline from 'node:readline';

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
  private readonly exitListeners: Array<(proc: SupervisedProcess, code: number | null, signal: NodeJS.Signals | null) => void> = [];
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
        if (!this.stopping && !proc.stopRequested) for (const listener of this.exitListeners) listener(proc, code, signal);
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
                throw new ExitedBeforeError(`${spec.name} exited (${signal ?? `code ${code}`}) before printing ${pattern}`);
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
  onUnexpectedExit(listener: (proc: SupervisedProcess, code: number | null, signal: NodeJS.Signals | null) => void): void {
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
    await Promise.all([...this.processes].reverse().map((proc) => stopGroup(proc, options.timeoutMs ?? DEFAULT_STOP_TIMEOUT_MS)));
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

export interface ProcessInfo {
  pid: number;
  ppid: number;
  pgid: number;
  /** R, S, D, Z, T... as in /proc/<pid>/stat. */
  state: string;
  /** Start time in clock ticks since boot: with the pid, it tells a process from a later one that reuses the pid. */
  startTime: number;
}

/** Every process visible in /proc (Linux only; an empty list elsewhere). */
export function listProcesses(): ProcessInfo[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const result: ProcessInfo[] = [];
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    // The command name (field 2) may hold spaces and parentheses: the fields after it start at the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    result.push({
      pid: Number(entry),
      state: fields[0] ?? '?',
      ppid: Number(fields[1]),
      pgid: Number(fields[2]),
      startTime: Number(fields[19]),
    });
  }
  return result;
}

/** The processes below `pid` in the process tree, children first. */
export function descendantsOf(pid: number, processes: ProcessInfo[] = listProcesses()): ProcessInfo[] {
  const found: ProcessInfo[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const parent = queue.shift();
    for (const info of processes) {
      if (info.ppid === parent) {
        found.push(info);
        queue.push(info.pid);
      }
    }
  }
  return found;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Thrown by a readiness check to stop waiting at once: what it waits for can no longer happen. */
export class ExitedBeforeError extends Error {}

export interface WaitOptions {
  timeoutMs?: number;
  /** Gives up early, with a clear message, when the process that should open the port has died. */
  process?: SupervisedProcess;
  intervalMs?: number;
}

/** Polls `check` until it returns true; fails with `what` in the message on timeout or when the process exits. */
export async function waitUntil(what: string, check: () => Promise<boolean>, options: WaitOptions = {}): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (options.process?.hasExited()) {
      const { code, signal } = await options.process.exited;
      throw new Error(`${options.process.name} exited (${signal ?? `code ${code}`}) before ${what}`);
    }
    const ok = await check().catch((error: unknown) => {
      if (error instanceof ExitedBeforeError) throw error;
      return false;
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs / 1000}s waiting for ${what}`);
    await sleep(options.intervalMs ?? 100);
  }
}

/** True when something accepts TCP connections on host:port. */
export function isPortOpen(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    socket.setTimeout(1_000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}

export function waitForPort(port: number, what: string, options: WaitOptions & { host?: string } = {}): Promise<void> {
  return waitUntil(`${what} to listen on port ${port}`, () => isPortOpen(port, options.host), options);
}

export function waitForHttp(
  url: string,
  what: string,
  options: WaitOptions & { headers?: Record<string, string>; status?: number } = {},
): Promise<void> {
  return waitUntil(
    `${what} to answer ${options.status ?? 200} at ${url}`,
    async () => {
      const response = await fetch(url, { headers: options.headers, signal: AbortSignal.timeout(2_000) });
      await response.body?.cancel();
      return response.status === (options.status ?? 200);
    },
    options,
  );
}

export class PortInUseError extends Error {
  constructor(
    readonly port: number,
    what: string,
  ) {
    super(`Port ${port} (${what}) is already in use: stop what uses it or set ${variableIn(what) ?? 'another port'}`);
    this.name = 'PortInUseError';
  }
}

function variableIn(what: string): string | undefined {
  return /\b[A-Z][A-Z0-9_]*_PORT\b/.exec(what)?.[0];
}

/**
 * Fails with a message naming the port and what it is for (e.g. "Temporal frontend, TEMPORAL_PORT"; the
 * variable that moves it is named in the advice) when the port cannot be bound on host.
 */
export async function assertPortFree(port: number, what: string, host = '127.0.0.1'): Promise<void> {
  // Binding says more than connecting: it also catches a listener on 0.0.0.0 and ports held but not accepting.
  const free = await new Promise<boolean>((resolve, reject) => {
    const server = net.createServer();
    server.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EADDRINUSE' || error.code === 'EACCES') resolve(false);
      else reject(error);
    });
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
  if (!free) throw new PortInUseError(port, what);
}

/** A port that was free a moment ago, chosen by the kernel. */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ port: 0, host }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
