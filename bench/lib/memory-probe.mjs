/**
 * Loaded with `--import` into the benchmarks' API and worker processes (bench/lib/stack.ts), and so
 * into each of their threads (the Temporal worker runs workflows in a thread of their own): with
 * BENCH_MEMORY_DIR set, each thread appends JSON lines to `<dir>/<pid>-<thread>.jsonl`, every few
 * seconds the process's resident memory and this thread's V8 heap (committed and used), and after
 * each full collection the heap that survived it. Resident memory also moves with what V8 keeps
 * committed and with native code (the Temporal core is Rust); the heap left by a full collection
 * is what a JavaScript leak raises, so the soak can tell the two apart (bench/lib/memory.ts).
 * Plain JavaScript: worker threads inherit the flag but not tsx's loader.
 */
import { appendFileSync } from 'node:fs';
import path from 'node:path';
import { constants, PerformanceObserver } from 'node:perf_hooks';
import { threadId } from 'node:worker_threads';

const SAMPLE_EVERY_MS = 5_000;
const dir = process.env.BENCH_MEMORY_DIR;

if (dir) {
  const file = path.join(dir, `${process.pid}-${threadId}.jsonl`);
  const write = (line) => appendFileSync(file, `${JSON.stringify(line)}\n`);
  const sample = () => {
    const { rss, heapTotal, heapUsed } = process.memoryUsage();
    write({ kind: 'sample', at: Date.now(), rss, heapTotal, heapUsed });
  };
  sample();
  setInterval(sample, SAMPLE_EVERY_MS).unref();
  // The observer runs once the collection is over: the heap used then is what survived it.
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      if (entry.detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR)
        write({ kind: 'full-gc', at: Date.now(), heapUsed: process.memoryUsage().heapUsed });
    }
  }).observe({ entryTypes: ['gc'] });
}
