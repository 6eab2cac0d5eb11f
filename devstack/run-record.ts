/**
 * A record of the processes one launcher started (`<data>/run/processes.json`), so that the next start can
 * stop what a launcher killed with SIGKILL (or a crashed terminal) left running, instead of failing on busy ports.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { listProcesses, type ProcessInfo } from './process-table';
import { sleep } from './waits';

interface RecordedProcess {
  name: string;
  pid: number;
  /** Clock ticks since boot: together with the pid, it tells the process from a later one reusing the pid. */
  startTime: number;
}

interface RunRecord {
  launcher: RecordedProcess;
  children: RecordedProcess[];
}

export function runRecordPath(dataDir: string): string {
  return path.join(dataDir, 'run', 'processes.json');
}

function identify(name: string, pid: number, processes: ProcessInfo[]): RecordedProcess | undefined {
  const info = processes.find((candidate) => candidate.pid === pid);
  return info ? { name, pid, startTime: info.startTime } : undefined;
}

function isRunning(recorded: RecordedProcess, processes: ProcessInfo[]): boolean {
  return processes.some(
    (info) => info.pid === recorded.pid && info.startTime === recorded.startTime && info.state !== 'Z',
  );
}

export function writeRunRecord(dataDir: string, children: ReadonlyArray<{ name: string; pid: number }>): void {
  const processes = listProcesses();
  const launcher = identify('launcher', process.pid, processes);
  if (!launcher) return; // no /proc: nothing reliable to record
  const record: RunRecord = {
    launcher,
    children: children.flatMap((child) => identify(child.name, child.pid, processes) ?? []),
  };
  const file = runRecordPath(dataDir);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(record, null, 2)}\n`);
}

export function removeRunRecord(dataDir: string): void {
  rmSync(runRecordPath(dataDir), { force: true });
}

/**
 * Before a start: refuses when another launcher still runs on the same data, and stops the process
 * groups that a dead launcher left behind. Returns the names of what it stopped.
 */
export async function stopLeftovers(dataDir: string, log: (message: string) => void): Promise<string[]> {
  let record: RunRecord;
  try {
    record = JSON.parse(readFileSync(runRecordPath(dataDir), 'utf8')) as RunRecord;
  } catch {
    return [];
  }
  const processes = listProcesses();
  if (record.launcher.pid !== process.pid && isRunning(record.launcher, processes)) {
    throw new Error(
      `Another "npm start" (pid ${record.launcher.pid}) is running with the data in ${dataDir}: stop it first, ` +
        'or give this one its own STOREFRONT_DATA_DIR and ports',
    );
  }
  const leftovers = record.children.filter((child) => isRunning(child, processes));
  if (leftovers.length > 0) {
    log(
      `stopping what an earlier start left running: ${leftovers.map((child) => `${child.name} (pid ${child.pid})`).join(', ')}`,
    );
    for (const child of leftovers) signalGroup(child.pid, 'SIGTERM');
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && leftovers.some((child) => isRunning(child, listProcesses()))) await sleep(100);
    for (const child of leftovers) if (isRunning(child, listProcesses())) signalGroup(child.pid, 'SIGKILL');
  }
  removeRunRecord(dataDir);
  return leftovers.map((child) => child.name);
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // already gone
  }
}
