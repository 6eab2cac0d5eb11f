/**
 * The shape a small shop runs: one temporal-server process serving frontend, history, matching
 * and worker on PostgreSQL (harness/temporal-cluster.ts, layout 'one-process'), beside the bench
 * stack's dev server in the same run, with the same workers started in this process (only the
 * server differs; bench/benchmarks/cluster.ts opens the sides). Per server, in ABBA rounds: a
 * closed loop of `concurrency` customers (place, then pay) for a fixed time, and the CPU of each
 * process group from /proc over the loop: CPU per checkout of the server (with the PostgreSQL
 * backends serving its databases) against the dev server's is what bounds the ratio.
 * Headline: server_one_process_throughput_ratio, the median of the per-pair ratios of checkouts/s.
 *
 * BENCH_ONE_PROCESS_SWEEP=1 first weighs each setting of the server's configuration (shards,
 * connection pool, task-queue partitions, mTLS), each on a server of its own against the dev
 * server, and writes `one-process-sweep.json` (left out of the summary).
 */
import os from 'node:os';
import type { createClient } from '../../temporal/connection';
import { startTemporalCluster, type ServerTuning } from '../../harness/temporal-cluster';
import { checkout, checkoutInput, closedLoop, createBenchProducts } from '../lib/checkout-driver';
import type { BenchContext, Benchmark } from '../lib/context';
import { cpuBetween, processesMatching, processTree, sampleCpu, type CpuGroups } from '../lib/cpu';
import { median, percentile, round } from '../lib/stats';
import { openDevServerSide, openSide, type Side } from './cluster';
import type { ProductView } from '../../services/inventory/inventory.service';

type ServerName = 'dev-server' | 'one-process';

/** The dev server's side runs here, away from the stack's own namespace, its worker processes and the cluster benchmark's. */
const DEV_SERVER_NAMESPACE = 'bench-one-process-compare';

/** A setting of the one-process server, as the sweep weighs it. */
export interface TuningChoice {
  name: string;
  tuning: ServerTuning;
}

const ONE_PARTITION = { 'matching.numTaskqueueReadPartitions': 1, 'matching.numTaskqueueWritePartitions': 1 };

/**
 * What the benchmark runs (docs/performance.md, "One process on PostgreSQL", has the sweep): four
 * history shards, as the cluster tier, since 1, 4 and 512 cost the same CPU per checkout here and
 * the count is fixed for the database's life, so fewer would close the way to a cluster later; one
 * task-queue partition (dynamic, raised when a queue outgrows one poller's process); the pool at
 * ten connections with as many kept idle, since a smaller idle pool closes and reopens them under
 * load; mTLS on, since plaintext saved nothing measurable.
 */
export const ONE_PROCESS_TUNING: ServerTuning = {
  numHistoryShards: 4,
  maxConns: 10,
  maxIdleConns: 10,
  mtls: true,
  dynamicConfig: ONE_PARTITION,
};

/** The sweep: the cluster tier's settings, then one change at a time. */
export const SWEEP: TuningChoice[] = [
  { name: 'cluster tier (4 shards, 10 conns, 4 partitions, mTLS)', tuning: {} },
  { name: '1 shard', tuning: { numHistoryShards: 1 } },
  { name: '512 shards', tuning: { numHistoryShards: 512 } },
  { name: '1 partition', tuning: { dynamicConfig: ONE_PARTITION } },
  { name: '4 conns', tuning: { maxConns: 4, maxIdleConns: 4 } },
  { name: '20 conns, 5 idle', tuning: { maxConns: 20, maxIdleConns: 5 } },
  { name: 'plaintext', tuning: { mtls: false } },
  { name: 'chosen', tuning: ONE_PROCESS_TUNING },
];

interface Round {
  server: ServerName;
  round: number;
  loadAverage: number[];
  checkoutsPerS: number;
  placeP50Ms: number;
  placeP99Ms: number;
  errors: number;
  firstErrors: string[];
  /** CPU milliseconds per completed checkout per process group, over the loop. */
  cpuMsPerCheckout: Record<string, number>;
  /** The serving side's: the dev server, or the one-process server plus its PostgreSQL backends. */
  serverCpuMsPerCheckout: number;
  machineBusy: number;
}

interface Comparison {
  name: string;
  tuning: ServerTuning;
  startS: number;
  throughputRatio: number;
  /** The one-process server's CPU per checkout (its PostgreSQL backends included) ÷ the dev server's. */
  serverCpuRatio: number;
  figures: Record<ServerName, { checkoutsPerS: number; placeP50Ms: number; serverCpuMsPerCheckout: number }>;
  rounds: Round[];
}

interface Sizes {
  warmup: number;
  concurrency: number;
  loopS: number;
  rounds: readonly ServerName[];
}

async function compare(
  context: BenchContext,
  choice: TuningChoice,
  devServer: Side,
  workflowBundle: { code: string },
  products: ProductView[],
  sizes: Sizes,
  /** Tells this comparison's customers from the others' (each places ten orders at most). */
  index: number,
): Promise<Comparison> {
  const { stack } = context;
  const begun = Date.now();
  const server = await startTemporalCluster({
    namespace: 'bench-one-process',
    layout: 'one-process',
    tuning: choice.tuning,
    log: (line) => context.log(`  ${line}`),
  });
  const startS = round((Date.now() - begun) / 1000, 1);
  let oneProcess: Side | undefined;
  try {
    oneProcess = await openSide(context, server.settings(), workflowBundle);
    const sides: Record<ServerName, Side> = { 'dev-server': devServer, 'one-process': oneProcess };
    const groups: CpuGroups = {
      devServer: () => processTree(stack.pids().temporal)(),
      oneProcess: () => server.pids(),
      oneProcessPostgres: () => [
        ...processesMatching(` ${server.databases.main} `)(),
        ...processesMatching(` ${server.databases.visibility} `)(),
      ],
      servicesPostgres: processesMatching(`bench_${stack.runId}_`),
      stripeMock: () => processTree(stack.pids().stripeMock)(),
      benchWorkersAndDriver: () => [process.pid],
    };
    let customers = 0;
    const once = (name: ServerName, client: ReturnType<typeof createClient>) =>
      // Ten orders per customer: the free plan's monthly order quota is never the limit.
      checkout(
        client,
        'saga',
        checkoutInput(
          `one-process-${stack.runId}-${index}-${name}-${Math.floor(customers++ / 10)}`,
          products[customers % products.length]!,
        ),
      );
    for (const name of ['dev-server', 'one-process'] as const)
      await sides[name].run(async (client) => {
        for (let i = 0; i < sizes.warmup; i++) await once(name, client);
      });

    const rounds: Round[] = [];
    for (const [index, name] of sizes.rounds.entries()) {
      const before = sampleCpu(groups);
      const loop = await sides[name].run((client) =>
        closedLoop(sizes.concurrency, sizes.loopS * 1000, () => once(name, client)),
      );
      const usage = cpuBetween(before, sampleCpu(groups));
      const done = Math.max(1, loop.results.length);
      const perCheckout = Object.fromEntries(
        Object.entries(usage.seconds).map(([group, seconds]) => [group, round((seconds * 1000) / done, 1)]),
      );
      const serving =
        name === 'dev-server'
          ? perCheckout.devServer!
          : round(perCheckout.oneProcess! + perCheckout.oneProcessPostgres!, 1);
      const places = loop.results.map((timing) => timing.placeMs);
      const result: Round = {
        server: name,
        round: index,
        loadAverage: os.loadavg().map((load) => round(load)),
        checkoutsPerS: round(loop.results.length / loop.elapsedS, 2),
        placeP50Ms: round(percentile(places, 50), 1),
        placeP99Ms: round(percentile(places, 99), 1),
        errors: loop.errors.length,
        firstErrors: [...new Set(loop.errors)].slice(0, 3),
        cpuMsPerCheckout: perCheckout,
        serverCpuMsPerCheckout: serving,
        machineBusy: usage.machineBusy,
      };
      rounds.push(result);
      context.log(
        `  ${choice.name}: round ${index} ${name.padEnd(11)} ${result.checkoutsPerS} checkouts/s, place p50 ${result.placeP50Ms} ms, ` +
          `server CPU ${serving} ms/checkout${name === 'one-process' ? ` (process ${perCheckout.oneProcess}, its PostgreSQL ${perCheckout.oneProcessPostgres})` : ''}, workers+driver ${perCheckout.benchWorkersAndDriver} ms, ${result.errors} errors ` +
          `(machine ${Math.round(usage.machineBusy * 100)} % busy, load ${result.loadAverage.join(' ')})`,
      );
    }
    return summarise(choice, startS, rounds);
  } finally {
    await oneProcess?.close();
    await server.stop();
  }
}

/** ABBA: rounds 0 and 1 are one pair, 2 and 3 the next; each pair's ratio, then their median. */
function summarise(choice: TuningChoice, startS: number, rounds: Round[]): Comparison {
  const pairs: Array<{ dev: Round; one: Round }> = [];
  for (let i = 0; i + 1 < rounds.length; i += 2) {
    const [a, b] = [rounds[i]!, rounds[i + 1]!];
    pairs.push(a.server === 'dev-server' ? { dev: a, one: b } : { dev: b, one: a });
  }
  const of = (name: ServerName) => {
    const mine = rounds.filter((r) => r.server === name);
    return {
      checkoutsPerS: round(median(mine.map((r) => r.checkoutsPerS)), 2),
      placeP50Ms: round(median(mine.map((r) => r.placeP50Ms)), 1),
      serverCpuMsPerCheckout: round(median(mine.map((r) => r.serverCpuMsPerCheckout)), 1),
    };
  };
  return {
    name: choice.name,
    tuning: choice.tuning,
    startS,
    throughputRatio: round(median(pairs.map((p) => p.one.checkoutsPerS / p.dev.checkoutsPerS)), 2),
    serverCpuRatio: round(median(pairs.map((p) => p.one.serverCpuMsPerCheckout / p.dev.serverCpuMsPerCheckout)), 2),
    figures: { 'dev-server': of('dev-server'), 'one-process': of('one-process') },
    rounds,
  };
}

function line(comparison: Comparison): string {
  const { figures } = comparison;
  return (
    `${comparison.name}: ${figures['one-process'].checkoutsPerS} vs ${figures['dev-server'].checkoutsPerS} checkouts/s, ratio ${comparison.throughputRatio}; ` +
    `server CPU ${figures['one-process'].serverCpuMsPerCheckout} vs ${figures['dev-server'].serverCpuMsPerCheckout} ms/checkout (×${comparison.serverCpuRatio})`
  );
}

export const oneProcessBenchmark: Benchmark = {
  name: 'one-process',
  title:
    'the checkout saga on one temporal-server process (all four services, PostgreSQL) beside the dev server, ABBA: throughput and CPU per checkout',
  async run(context) {
    const { stack } = context;
    const sweep = process.env.BENCH_ONE_PROCESS_SWEEP === '1';
    const sizes: Sizes = context.quick
      ? { warmup: 3, concurrency: 4, loopS: 10, rounds: ['dev-server', 'one-process', 'one-process', 'dev-server'] }
      : {
          warmup: 6,
          concurrency: 8,
          loopS: 30,
          rounds: ['dev-server', 'one-process', 'one-process', 'dev-server', 'dev-server', 'one-process'],
        };
    const { side: devServer, workflowBundle } = await openDevServerSide(context, DEV_SERVER_NAMESPACE);
    try {
      const products = await createBenchProducts(stack.services.inventory, `one-process-${stack.runId}`, 8);
      const choices: TuningChoice[] = sweep ? SWEEP : [{ name: 'one process', tuning: ONE_PROCESS_TUNING }];
      const comparisons: Comparison[] = [];
      for (const [index, choice] of choices.entries()) {
        comparisons.push(await compare(context, choice, devServer, workflowBundle, products, sizes, index));
        context.log(`  ${line(comparisons.at(-1)!)}`);
      }
      if (sweep)
        return {
          summary: comparisons.map(line).join('\n'),
          headline: {},
          data: { sizes, comparisons },
          variant: 'sweep',
        };
      const [result] = comparisons as [Comparison];
      return {
        summary: line(result),
        headline: { server_one_process_throughput_ratio: result.throughputRatio },
        data: { sizes, ...result },
      };
    } finally {
      await devServer.close();
    }
  },
};
