/** CPU time per process group during a measured stretch, from /proc (Linux): what a benchmark's bound is. */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { descendantsOf, listProcesses } from '../../devstack/process-table';

const TICKS_PER_SECOND = 100;

export type CpuGroups = Record<string, () => number[]>;

export interface CpuSample {
  at: number;
  ticks: Record<string, number>;
  machineBusy: number;
  machineTotal: number;
}

/** A process and everything below it. */
export function processTree(pid: number | undefined): () => number[] {
  return () => (pid === undefined ? [] : [pid, ...descendantsOf(pid).map((info) => info.pid)]);
}

/**
 * Processes whose command line contains `text`: e.g. the PostgreSQL backends serving one
 * run's databases (their title names the database), not those of everyone else on the server.
 */
export function processesMatching(text: string): () => number[] {
  return () => {
    const pids: number[] = [];
    for (const info of listProcesses()) {
      try {
        if (readFileSync(`/proc/${info.pid}/cmdline`, 'utf8').includes(text)) pids.push(info.pid);
      } catch {
        // gone meanwhile
      }
    }
    return pids;
  };
}

function ticksOf(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime and stime (fields 14 and 15 of the line). Children are counted as processes of
    // their own, so their cutime/cstime would count them twice.
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0;
  }
}

function machineTicks(): { busy: number; total: number } {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
    const values = line.trim().split(/\s+/).slice(1).map(Number);
    const total = values.reduce((sum, value) => sum + value, 0);
    const idle = (values[3] ?? 0) + (values[4] ?? 0);
    return { busy: total - idle, total };
  } catch {
    return { busy: 0, total: 0 };
  }
}

export function sampleCpu(groups: CpuGroups): CpuSample {
  const ticks: Record<string, number> = {};
  for (const [name, pids] of Object.entries(groups)) ticks[name] = pids().reduce((sum, pid) => sum + ticksOf(pid), 0);
  const machine = machineTicks();
  return { at: Date.now(), ticks, machineBusy: machine.busy, machineTotal: machine.total };
}

export interface CpuUsage {
  /** CPU seconds each group used between the samples. */
  seconds: Record<string, number>;
  /** Share of the whole machine's CPU (all cores) that was busy, 0-1, whoever used it. */
  machineBusy: number;
  cores: number;
}

/**
 * CPU between two samples. A process that exited in between is undercounted; the groups
 * here (servers, the worker, this process) live through a measured stretch.
 */
export function cpuBetween(before: CpuSample, after: CpuSample): CpuUsage {
  const seconds: Record<string, number> = {};
  for (const name of Object.keys(after.ticks)) {
    seconds[name] = Number(
      (Math.max(0, (after.ticks[name] ?? 0) - (before.ticks[name] ?? 0)) / TICKS_PER_SECOND).toFixed(2),
    );
  }
  const total = after.machineTotal - before.machineTotal;
  return {
    seconds,
    machineBusy: total > 0 ? Number(((after.machineBusy - before.machineBusy) / total).toFixed(3)) : Number.NaN,
    cores: os.cpus().length,
  };
}
