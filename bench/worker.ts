/**
 * The benchmarks' worker process: the worker process itself (lib/worker-process.ts, what
 * `worker.ts` runs), with the benchmark's workflow bundle (the real workflows and the floor's
 * baseline), a no-op activity on every service queue, and the worker settings of BENCH_WORKER_TUNING.
 */
import { main } from '../lib/worker-process';
import type { WorkerTuning } from '../lib/workers';
import { createNoopActivities } from './lib/noop-activities';
import { BUNDLE_ENV, TUNING_ENV } from './lib/tuning';

const bundlePath = process.env[BUNDLE_ENV];
if (!bundlePath) throw new Error(`${BUNDLE_ENV} must name the bundled workflow code`);
main({
  workflowBundle: { codePath: bundlePath },
  extraActivities: createNoopActivities(),
  tuning: JSON.parse(process.env[TUNING_ENV] ?? '{}') as WorkerTuning,
});
