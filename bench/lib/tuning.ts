/** How the benchmark hands its settings to the bench worker process (bench/worker.ts). */
export type { WorkerTuning } from '../../worker/workers';

export const TUNING_ENV = 'BENCH_WORKER_TUNING';
/** What the worker process prints once its workers poll (worker/process.ts). */
export const READY_LINE = 'workers polling';
