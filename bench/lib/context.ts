/** What every benchmark gets from the runner, and what it hands back. */
import type { Machine } from './machine';
import type { BenchStack } from './stack';

/** The headline figures of bench/results/summary.json (stable keys; see bench/README.md). */
export interface Headline {
  saga_throughput_ratio: number;
  order_p99_ms: number;
  payment_p99_ms: number;
  timer_lateness_p99_ms: number;
  oversold_total: number;
  history_events_max: number;
  sse_p99_ms: number;
  api_overhead_ratio: number;
  activity_step_ms: number;
  placement_latency_ratio: number;
  /** One customer's saga placement p50 over the placement's shape with no-op activities (bench/workflows/placement-shape.workflow.ts); goal ≤ 1.25. */
  placement_shape_ratio: number;
  /** CPU milliseconds of every process in the loop (dev server, worker, stripe-mock, PostgreSQL backends, the driver) per completed saga checkout. */
  checkout_cpu_ms: number;
  /** Checkouts per second on the Temporal cluster over the dev server's, same run (bench/benchmarks/cluster.ts). */
  cluster_throughput_ratio: number;
  /** One customer's place + pay p50 on the cluster over the dev server's. */
  cluster_checkout_p50_ratio: number;
  /** Checkouts per second on one temporal-server process on PostgreSQL over the dev server's, ABBA pairs (bench/benchmarks/one-process.ts). */
  server_one_process_throughput_ratio: number;
  stock_returned_p99_ms: number;
  soak_rss_slope_mb_per_10min: number;
  /** The heap left by each full collection, floor slope in MB per 10 min, larger of the API's and the worker's, over a soak of an hour or more (goal < 1). */
  soak_heap_slope_mb_per_10min: number;
  /** The resident-memory floor slope over the second half of a soak of an hour or more, larger of the two (goal < 5). */
  soak_rss_second_half_slope_mb_per_10min: number;
  /** A deep catalogue page's req/s at 10,000 products over at 100 (bench/benchmarks/scale-data.ts). */
  catalogue_10k_ratio: number;
  /** One customer's order list p99 at 10,000 orders over at 10 (goal ≤ 2). */
  order_list_p99_ratio: number;
  /** The highest offered rate of open-loop checkouts through the API with placement p99 < 500 ms and no errors (bench/benchmarks/curve.ts). */
  sustainable_checkouts_per_s: number;
}

export interface BenchContext {
  stack: BenchStack;
  quick: boolean;
  machine: Machine;
  /** Flags after `--` that a benchmark may read (e.g. `--verbose`). */
  flags: ReadonlySet<string>;
  log(message: string): void;
}

export interface BenchOutcome {
  /** The one line printed to stdout. */
  summary: string;
  headline: Partial<Headline>;
  /** Written to bench/results/<name>.json with the machine and the time. */
  data: Record<string, unknown>;
  /** Written but left out of the summary: a benchmark that could not run (e.g. a route that does not exist yet). */
  skipped?: string;
  /**
   * A run off the standard size (a BENCH_* setting): written to bench/results/<name>-<variant>.json
   * and left out of the summary, whose figures are the standard runs'.
   */
  variant?: string;
  /**
   * A variant whose headline the summary does take: figures only that length measures (a soak of an
   * hour or more), under keys of their own, so the standard run's keys stay the standard run's.
   */
  variantInSummary?: boolean;
}

export interface Benchmark {
  name: string;
  /** What it measures, one line (printed by --list). */
  title: string;
  run(context: BenchContext): Promise<BenchOutcome>;
}
