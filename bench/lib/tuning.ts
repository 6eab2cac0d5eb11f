/** Worker settings a benchmark runs with, passed to the bench worker process as JSON. */
export interface WorkerTuning {
  /** Per worker (one per task queue). SDK default 40. */
  maxConcurrentWorkflowTaskExecutions?: number;
  /** Per worker. SDK default 100. */
  maxConcurrentActivityTaskExecutions?: number;
  /** Fixed pollers per worker; SDK default min(10, slots). */
  maxConcurrentWorkflowTaskPolls?: number;
  maxConcurrentActivityTaskPolls?: number;
  /** Workflows kept in the sticky cache. */
  maxCachedWorkflows?: number;
}

export const TUNING_ENV = 'BENCH_WORKER_TUNING';
export const BUNDLE_ENV = 'BENCH_WORKFLOW_BUNDLE';
export const READY_LINE = 'bench worker polling';
