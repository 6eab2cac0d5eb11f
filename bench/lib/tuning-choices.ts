/** The worker and dev-server settings the benchmarks run with, and the alternatives the tuning sweep (`--only tuning`) measures. */
import type { TemporalServerOptions } from './stack';
import type { WorkerTuning } from './tuning';

/** Chosen from the tuning sweep (see bench/README.md "Tuning"). */
export const BENCH_TUNING: WorkerTuning = {};

/** The dev server as `npm start` runs it: state in a SQLite file, default pragmas. */
export const BENCH_SERVER: TemporalServerOptions = {};

export interface Exploration {
  label: string;
  tuning: WorkerTuning;
  server?: TemporalServerOptions;
  concurrency?: number;
}

export const EXPLORATIONS: Exploration[] = [
  { label: 'defaults', tuning: {} },
  {
    // What the dev server ran with before "The dev server's floor" (docs/performance.md).
    label: 'server-and-sqlite-defaults',
    tuning: {},
    server: {
      sqlitePragmas: ['journal_mode=delete', 'synchronous=full'],
      dynamicConfig: ['history.transferProcessorMaxPollRPS=20'],
    },
  },
  { label: 'concurrency-8', tuning: {}, concurrency: 8 },
  { label: 'concurrency-48', tuning: {}, concurrency: 48 },
  { label: 'pollers-2', tuning: { maxConcurrentWorkflowTaskPolls: 2, maxConcurrentActivityTaskPolls: 2 } },
  { label: 'activity-slots-20', tuning: { maxConcurrentActivityTaskExecutions: 20 } },
  {
    label: 'workflow-slots-100',
    tuning: { maxConcurrentWorkflowTaskExecutions: 100, maxConcurrentWorkflowTaskPolls: 10 },
  },
  { label: 'sqlite-wal-normal', tuning: {}, server: { sqlitePragmas: ['journal_mode=wal', 'synchronous=normal'] } },
  { label: 'sqlite-in-memory', tuning: {}, server: { inMemory: true } },
  {
    label: 'wal-concurrency-8',
    tuning: {},
    server: { sqlitePragmas: ['journal_mode=wal', 'synchronous=normal'] },
    concurrency: 8,
  },
  {
    label: 'wal-concurrency-48',
    tuning: {},
    server: { sqlitePragmas: ['journal_mode=wal', 'synchronous=normal'] },
    concurrency: 48,
  },
  {
    label: 'wal-activity-slots-20',
    tuning: { maxConcurrentActivityTaskExecutions: 20 },
    server: { sqlitePragmas: ['journal_mode=wal', 'synchronous=normal'] },
  },
  {
    label: 'wal-pollers-2',
    tuning: { maxConcurrentWorkflowTaskPolls: 2, maxConcurrentActivityTaskPolls: 2 },
    server: { sqlitePragmas: ['journal_mode=wal', 'synchronous=normal'] },
  },
  {
    label: 'wal-one-partition',
    tuning: {},
    server: {
      sqlitePragmas: ['journal_mode=wal', 'synchronous=normal'],
      dynamicConfig: ['matching.numTaskqueueReadPartitions=1', 'matching.numTaskqueueWritePartitions=1'],
    },
  },
  {
    label: 'wal-one-partition-concurrency-48',
    tuning: {},
    concurrency: 48,
    server: {
      sqlitePragmas: ['journal_mode=wal', 'synchronous=normal'],
      dynamicConfig: ['matching.numTaskqueueReadPartitions=1', 'matching.numTaskqueueWritePartitions=1'],
    },
  },
  {
    label: 'one-partition',
    tuning: {},
    server: { dynamicConfig: ['matching.numTaskqueueReadPartitions=1', 'matching.numTaskqueueWritePartitions=1'] },
  },
];
