/**
 * `npm run bench`: starts a stack of its own (Temporal dev server, stripe-mock, bench_*
 * databases, worker processes) on free ports, runs the benchmarks in order, writes
 * bench/results/<name>.json and one summary line each, and after a full run gathers the
 * headline figures in bench/results/summary.json.
 *
 *   npm run bench                    every benchmark, full size (about 40 minutes on 2 cores)
 *   npm run bench -- --quick         every benchmark, small (under 3 minutes); results in bench/results/quick/
 *   npm run bench -- --only timers,oversell
 *   npm run bench -- --list
 *   npm run bench -- --only tuning   the tuning sweep (opt-in; BENCH_EXPLORE=label,label to pick)
 *   npm run bench -- --verbose       the servers' and the worker's own output
 */
import { mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { BENCHMARKS, OPT_IN_BENCHMARKS } from './benchmarks';
import type { BenchContext, Headline } from './lib/context';
import { describeMachine, type Machine } from './lib/machine';
import { startBenchStack } from './lib/stack';
import { commandLineOrExit } from '../lib/command-line';

const RESULTS_DIR = path.resolve(__dirname, 'results');

interface Summary extends Partial<Headline> {
  machine: Machine;
  at: string;
  /** When each headline figure was last measured (a full run with --only refreshes some). */
  measuredAt: Partial<Record<keyof Headline, string>>;
}

const USAGE = `npm run bench -- [options]: starts a stack of its own on free ports, runs the benchmarks in
order and writes bench/results/<name>.json (a quick run: bench/results/quick/).`;

const OPTIONS = {
  quick: { type: 'boolean', help: 'every benchmark, small (under 3 minutes)' },
  only: { type: 'string', help: 'only these benchmarks, comma-separated (see --list)' },
  list: { type: 'boolean', help: 'list the benchmarks and exit' },
  verbose: { type: 'boolean', help: "the servers' and the worker's own output" },
  'temporal-in-memory': { type: 'boolean', help: 'the dev server without its SQLite file' },
  'sqlite-pragmas': { type: 'string', help: "the dev server's SQLite pragmas, comma-separated" },
} as const;

function parseBenchArgs(argv: readonly string[]) {
  return commandLineOrExit(
    USAGE,
    OPTIONS,
    (values) => ({
      quick: values.quick ?? false,
      list: values.list ?? false,
      verbose: values.verbose ?? false,
      only: values.only
        ?.split(',')
        .map((name) => name.trim())
        .filter(Boolean),
      // The flags given, by name, for a benchmark that reads one.
      flags: new Set(
        Object.entries(values)
          .filter(([, value]) => value !== undefined && value !== false)
          .map(([name]) => `--${name}`),
      ),
      temporalInMemory: values['temporal-in-memory'] ?? false,
      sqlitePragmas: values['sqlite-pragmas']?.split(',').filter(Boolean),
    }),
    argv,
  );
}

async function main(): Promise<void> {
  const args = parseBenchArgs(process.argv.slice(2));
  if (args.list) {
    for (const bench of [...BENCHMARKS, ...OPT_IN_BENCHMARKS]) console.log(`${bench.name.padEnd(14)} ${bench.title}`);
    return;
  }
  const all = [...BENCHMARKS, ...OPT_IN_BENCHMARKS];
  const unknown = (args.only ?? []).filter((name) => !all.some((bench) => bench.name === name));
  if (unknown.length > 0) throw new Error(`Unknown benchmark(s): ${unknown.join(', ')} (see --list)`);
  const selected = args.only ? all.filter((bench) => args.only!.includes(bench.name)) : BENCHMARKS;

  const started = Date.now();
  const log = (message: string) =>
    process.stderr.write(`[bench ${((Date.now() - started) / 1000).toFixed(0).padStart(4)}s] ${message}\n`);
  log(
    `starting the bench stack (${args.quick ? 'quick' : 'full'} run: ${selected.map((bench) => bench.name).join(', ')})`,
  );
  const stack = await startBenchStack({
    verbose: args.verbose,
    inMemory: args.temporalInMemory,
    sqlitePragmas: args.sqlitePragmas,
  });
  let stopping = false;
  const onSignal = () => {
    if (stopping) process.exit(1);
    stopping = true;
    log('interrupted: stopping the bench stack');
    // Checkouts in flight now fail as their servers go; the cleanup must still finish.
    process.on('uncaughtException', () => undefined);
    process.on('unhandledRejection', () => undefined);
    void stack.stop().finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const outDir = args.quick ? path.join(RESULTS_DIR, 'quick') : RESULTS_DIR;
  mkdirSync(outDir, { recursive: true });
  const headline: Partial<Headline> = {};
  const failures: string[] = [];
  try {
    const machine = await describeMachine({ temporalCli: stack.temporalCli, postgresUrl: stack.postgresUrl });
    log(
      `stack ready in ${((Date.now() - started) / 1000).toFixed(1)}s: Temporal ${machine.temporalServer} (CLI ${machine.temporalCli}), PostgreSQL ${machine.postgres}, ${machine.cores} cores, load ${machine.loadAverage.join(' ')}`,
    );
    const context: BenchContext = { stack, quick: args.quick, machine, flags: args.flags, log };
    for (const bench of selected) {
      const begun = Date.now();
      log(`${bench.name}: ${bench.title}`);
      try {
        const outcome = await bench.run(context);
        const durationS = Number(((Date.now() - begun) / 1000).toFixed(1));
        const record = {
          name: bench.name,
          title: bench.title,
          at: new Date().toISOString(),
          quick: args.quick,
          durationS,
          machine: {
            ...machine,
            loadAverageAtEnd: (await import('node:os')).loadavg().map((load) => Number(load.toFixed(2))),
          },
          ...(outcome.skipped ? { skipped: outcome.skipped } : {}),
          headline: outcome.headline,
          ...outcome.data,
        };
        const file = outcome.variant ? `${bench.name}-${outcome.variant}.json` : `${bench.name}.json`;
        writeFileSync(path.join(outDir, file), `${JSON.stringify(record, null, 2)}\n`);
        if (!outcome.skipped && (!outcome.variant || outcome.variantInSummary))
          Object.assign(headline, outcome.headline);
        console.log(`${bench.name}: ${outcome.summary} (${durationS}s)`);
      } catch (error) {
        failures.push(bench.name);
        log(`${bench.name} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
        console.log(`${bench.name}: FAILED (${error instanceof Error ? error.message : String(error)})`);
      }
    }
    if (!args.quick && Object.keys(headline).length > 0) writeSummary(headline, machine);
  } finally {
    log('stopping the bench stack');
    await stack.stop();
  }
  log(`done in ${((Date.now() - started) / 1000).toFixed(0)}s`);
  if (failures.length > 0) process.exitCode = 1;
}

/** Merges the new figures into summary.json: a full run of some benchmarks leaves the others' figures as they were. */
function writeSummary(headline: Partial<Headline>, machine: Machine): void {
  const file = path.join(RESULTS_DIR, 'summary.json');
  const previous = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Partial<Summary>) : {};
  const at = new Date().toISOString();
  const measuredAt = { ...(previous.measuredAt ?? {}) };
  for (const key of Object.keys(headline) as Array<keyof Headline>) measuredAt[key] = at;
  const keys: Array<keyof Headline> = [
    'saga_throughput_ratio',
    'order_p99_ms',
    'payment_p99_ms',
    'timer_lateness_p99_ms',
    'oversold_total',
    'history_events_max',
    'sse_p99_ms',
    'api_overhead_ratio',
    'activity_step_ms',
    'placement_latency_ratio',
    'placement_shape_ratio',
    'checkout_cpu_ms',
    'cluster_throughput_ratio',
    'cluster_checkout_p50_ratio',
    'server_one_process_throughput_ratio',
    'stock_returned_p99_ms',
    'soak_rss_slope_mb_per_10min',
    'soak_heap_slope_mb_per_10min',
    'soak_rss_second_half_slope_mb_per_10min',
    'catalogue_10k_ratio',
    'order_list_p99_ratio',
    'sustainable_checkouts_per_s',
  ];
  const summary: Record<string, unknown> = {};
  for (const key of keys) summary[key] = headline[key] ?? previous[key] ?? null;
  Object.assign(summary, { machine, at, measuredAt });
  writeFileSync(file, `${JSON.stringify(summary, null, 2)}\n`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
