/** Every benchmark, in the order `npm run bench` runs them. */
import type { Benchmark } from '../lib/context';
import { activitiesBenchmark } from './activities';
import { apiOverheadBenchmark } from './api-overhead';
import { clusterBenchmark } from './cluster';
import { curveBenchmark } from './curve';
import { floorBenchmark } from './floor';
import { historyBenchmark } from './history';
import { latencyBenchmark } from './latency';
import { oneProcessBenchmark } from './one-process';
import { oversellBenchmark } from './oversell';
import { scaleBenchmark } from './scale';
import { scaleDataBenchmark } from './scale-data';
import { soakBenchmark } from './soak';
import { sqlPathsBenchmark } from './sql-paths';
import { sseBenchmark } from './sse';
import { throughputBenchmark, tuningBenchmark } from './throughput';
import { timersBenchmark } from './timers';

/** api-overhead first: it measures the catalogue of the 8 demo products, before the others add theirs. Soak last: 20 minutes. */
export const BENCHMARKS: Benchmark[] = [
  apiOverheadBenchmark,
  throughputBenchmark,
  latencyBenchmark,
  activitiesBenchmark,
  sqlPathsBenchmark,
  floorBenchmark,
  timersBenchmark,
  oversellBenchmark,
  historyBenchmark,
  sseBenchmark,
  clusterBenchmark,
  oneProcessBenchmark,
  curveBenchmark,
  soakBenchmark,
];

/**
 * Run only when named with --only: the tuning sweep, scale (about 15 minutes) and scale-data (its
 * full run seeds 100,000 products and 10,000 orders through the services).
 */
export const OPT_IN_BENCHMARKS: Benchmark[] = [tuningBenchmark, scaleBenchmark, scaleDataBenchmark];
