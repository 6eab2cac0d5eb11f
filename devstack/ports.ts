/**
 * Ports for the servers a test, benchmark or chaos run starts, picked so that nothing can take one
 * between the pick and the bind. A port the kernel hands out (bind to 0) lies in its ephemeral
 * range, where any outgoing connection may take it once released; these come from below that
 * range instead, and each is held by a lock file under the system's temporary folder for the
 * life of the process that picked it, so two Jest workers, two stacks or two runs never pick the
 * same one.
 */
import { chmodSync, closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface PortRange {
  low: number;
  high: number;
}

/** Where the locks live: shared by every process of the machine's user that picks ports. */
export const PORT_LOCK_DIR = path.join(os.tmpdir(), 'storefront-ports');

/**
 * Picks stay below 32768: the Temporal cluster keeps membership ports in a PostgreSQL smallint,
 * and Linux's ephemeral range starts there by default.
 */
const PICK_LOW = 20_000;
const PICK_HIGH = 32_767;
/** Fewer ports than this below the ephemeral range and the picks take the whole 20000-32767 (locks still part them). */
const MIN_RANGE = 1_000;

/** The kernel's ephemeral range: Linux's as configured, else the defaults of macOS and Windows (IANA's). */
export function ephemeralPortRange(configured: string | undefined = readLinuxRange()): PortRange {
  const [low, high] = (configured ?? '').trim().split(/\s+/).map(Number);
  if (Number.isInteger(low) && Number.isInteger(high) && low! > 0 && high! >= low!) return { low: low!, high: high! };
  return { low: 49_152, high: 65_535 };
}

function readLinuxRange(): string | undefined {
  try {
    return readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8');
  } catch {
    return undefined;
  }
}

/** 20000 up to just below the ephemeral range (32767 at most). */
export function pickableRange(ephemeral: PortRange = ephemeralPortRange()): PortRange {
  const high = Math.min(PICK_HIGH, ephemeral.low - 1);
  if (high - PICK_LOW + 1 < MIN_RANGE) return { low: PICK_LOW, high: PICK_HIGH };
  return { low: PICK_LOW, high };
}

export interface PickOptions {
  host?: string;
  range?: PortRange;
  lockDir?: string;
}

/**
 * A port no other picker holds and nothing listens on, for a server this process or a child of
 * it starts; it stays reserved to this process until it exits.
 */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return pickPort({ host });
}

export async function pickPort(options: PickOptions = {}): Promise<number> {
  const { low, high } = options.range ?? pickableRange();
  const lockDir = options.lockDir ?? PORT_LOCK_DIR;
  openLockDir(lockDir);
  const size = high - low + 1;
  // A random start spreads concurrent pickers over the range, so they seldom try the same lock.
  const start = Math.floor(Math.random() * size);
  for (let i = 0; i < size; i++) {
    const port = low + ((start + i) % size);
    if (!lock(lockDir, port)) continue;
    if (await canBind(port, options.host ?? '127.0.0.1')) return port;
    release(lockDir, port);
  }
  throw new Error(`No free port between ${low} and ${high}: every one is held by a picker or in use`);
}

const held = new Map<string, Set<number>>();

/** Ports are the machine's, not a user's: the folder is shared like /tmp itself (anyone may add, only the owner remove). */
function openLockDir(lockDir: string): void {
  if (mkdirSync(lockDir, { recursive: true }) === undefined) return;
  try {
    chmodSync(lockDir, 0o1777);
  } catch {
    // A folder it cannot open to others still keeps this user's pickers apart.
  }
}

function lockFile(lockDir: string, port: number): string {
  return path.join(lockDir, String(port));
}

/** Takes the port's lock (O_EXCL, so exactly one process can), reclaiming one a dead process left. */
function lock(lockDir: string, port: number): boolean {
  if (create(lockFile(lockDir, port))) {
    remember(lockDir, port);
    return true;
  }
  if (holder(lockFile(lockDir, port)) === 'alive') return false;
  // The holder died without releasing (or has just released). Only the process that takes the
  // reclaim lock may remove a stale lock: two reclaimers could otherwise each remove the other's
  // fresh lock and both win. A lock found gone is not removed: a fresh one may have taken its place.
  const reclaim = `${lockFile(lockDir, port)}.reclaim`;
  if (!create(reclaim)) return false;
  try {
    const found = holder(lockFile(lockDir, port));
    if (found === 'alive') return false;
    if (found === 'dead') unlinkQuietly(lockFile(lockDir, port));
    if (!create(lockFile(lockDir, port))) return false;
    remember(lockDir, port);
    return true;
  } finally {
    unlinkQuietly(reclaim);
  }
}

function create(file: string): boolean {
  let fd: number;
  try {
    fd = openSync(file, 'wx');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
  try {
    writeSync(fd, `${process.pid}\n`);
  } finally {
    closeSync(fd);
  }
  return true;
}

/** Whose a lock is: a lock being written (still empty) counts as alive; so does a holder of another user (EPERM). */
function holder(file: string): 'alive' | 'dead' | 'absent' {
  let pid: number;
  try {
    pid = Number(readFileSync(file, 'utf8').trim());
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'absent';
    throw error;
  }
  if (!Number.isInteger(pid) || pid <= 0) return 'alive';
  try {
    process.kill(pid, 0);
    return 'alive';
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH' ? 'dead' : 'alive';
  }
}

function remember(lockDir: string, port: number): void {
  if (held.size === 0) process.once('exit', releaseAll);
  if (!held.has(lockDir)) held.set(lockDir, new Set());
  held.get(lockDir)!.add(port);
}

function release(lockDir: string, port: number): void {
  held.get(lockDir)?.delete(port);
  unlinkQuietly(lockFile(lockDir, port));
}

/** Locks a killed process leaves are reclaimed by the next picker that meets them; this tidies a normal exit. */
function releaseAll(): void {
  for (const [lockDir, ports] of held) for (const port of ports) unlinkQuietly(lockFile(lockDir, port));
  held.clear();
}

function unlinkQuietly(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // Already gone.
  }
}

/** Binding says more than connecting: it also catches a listener on 0.0.0.0 and ports held but not accepting. */
export function canBind(port: number, host: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EADDRINUSE' || error.code === 'EACCES') resolve(false);
      else reject(error);
    });
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}
