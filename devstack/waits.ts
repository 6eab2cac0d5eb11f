/** Waiting, bounded, for something to become true: a check, a port, an HTTP answer; and checking a port is free. */
import net from 'node:net';
import { canBind } from './ports';

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Thrown by a readiness check to stop waiting at once: what it waits for can no longer happen. */
export class ExitedBeforeError extends Error {}

/** A process a wait watches (the supervisor's processes are these), so a wait gives up when it dies. */
export interface WatchedProcess {
  name: string;
  hasExited(): boolean;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface WaitOptions {
  timeoutMs?: number;
  /** Gives up early, with a clear message, when the process that should open the port has died. */
  process?: WatchedProcess;
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
  if (!(await canBind(port, host))) throw new PortInUseError(port, what);
}
