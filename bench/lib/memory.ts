/** Reading what the memory probe (bench/lib/memory-probe.mjs) wrote for a process's threads. */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** The folder the probe writes to (its one setting); without it the probe does nothing. */
export const MEMORY_DIR_ENV = 'BENCH_MEMORY_DIR';

/** One line of a probe's file: bytes, and `at` in ms since the epoch; heaps are the thread's own, `rss` the process's. */
export type MemoryProbeLine =
  | { kind: 'sample'; at: number; rss: number; heapTotal: number; heapUsed: number }
  | { kind: 'full-gc'; at: number; heapUsed: number };

/** What the probe wrote in each thread of process `pid` (the main thread first), oldest line first. */
export function readMemoryProbe(dir: string, pid: number | undefined): MemoryProbeLine[][] {
  if (pid === undefined || !existsSync(dir)) return [];
  const threadOf = (file: string) => Number(file.slice(`${pid}-`.length, -'.jsonl'.length));
  return readdirSync(dir)
    .filter((file) => file.startsWith(`${pid}-`) && file.endsWith('.jsonl'))
    .sort((a, b) => threadOf(a) - threadOf(b))
    .map((file) =>
      readFileSync(path.join(dir, file), 'utf8')
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line) => JSON.parse(line) as MemoryProbeLine),
    );
}
