/** How the benchmark hands its settings to the bench worker process (bench/worker.ts). */
export type { WorkerTuning } from '../../lib/workers';

export const TUNING_ENV = 'BENCH_WORKER_TUNING';
/** What the worker process prints once its workers poll (lib/worker-process.ts). */
export const READY_LINE = 'workers polling';
