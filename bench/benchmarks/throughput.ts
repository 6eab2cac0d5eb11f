/**
 * Saga throughput: completed checkouts per second through the real checkout workflow, its
 * activities, services, six databases, stripe-mock and the notification workflows, against the
 * baseline workflow (bench/workflows/baseline.workflow.ts: the same 12 activities as no-ops, the
 * same updates, timer and search attributes) on the same server and worker. The two run in
 * alternating rounds (ABBA...), so a machine that gets busier or quieter during the run moves
 * both; the ratio is the median of the per-pair ratios.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { cpuBetween, processesMatching, processTree, sampleCpu, type CpuGroups, type CpuUsage } from '../lib/cpu';
import {
  checkout,
  checkoutInput,
  closedLoop,
  createBenchProducts,
  workflowIdOf,
  type CheckoutTiming,
  type Variant,
} from '../lib/checkout-driver';
import type { Benchmark, BenchContext } from '../lib/context';
import { fetchHistories, scheduleToStart } from '../lib/histories';
import { distribution, median, round } from '../lib/stats';
import type { BenchStack, TemporalServerOptions } from '../lib/stack';
import { BENCH_SERVER, BENCH_TUNING, EXPLORATIONS } from '../lib/tuning-choices';
import type { WorkerTuning } from '../lib/tuning';
import type { ProductView } from '../../services/inventory/inventory.service';

export interface RoundResult {
  variant: Variant;
  round: number;
  completed: number;
  errors: number;
  firstErrors: string[];
  elapsedS: number;
  perSecond: number;
  placeMs: ReturnType<typeof distribution>;
  payMs: ReturnType<typeof distribution>;
  cpu: CpuUsage;
  /** CPU milliseconds per completed checkout, per process group. */
  cpuMsPerCheckout: Record<string, number>;
  workflowIds: string[];
}

export function cpuGroups(stack: BenchStack): CpuGroups {
  const pids = () => stack.pids();
  return {
    temporal: () => processTree(pids().temporal)(),
    worker: () => pids().workers.flatMap((pid) => processTree(pid)()),
    stripeMock: () => processTree(pids().stripeMock)(),
    // Backends of this run's databases; a backend that ends within a round is undercounted.
    postgres: processesMatching(`bench_${stack.runId}_`),
    bench: () => [process.pid],
  };
}

export async function runRound(
  context: BenchContext,
  variant: Variant,
  roundNumber: number,
  settings: { concurrency: number; durationMs: number },
  products: ProductView[],
  label: string,
): Promise<RoundResult> {
  const { stack } = context;
  const groups = cpuGroups(stack);
  const workflowIds: string[] = [];
  const before = sampleCpu(groups);
  const outcome = await closedLoop<CheckoutTiming>(settings.concurrency, settings.durationMs, (loop, iteration) => {
    // A customer places ten orders at most: the free plan's 20 orders a month never refuse one.
    const customerId = `${label}-${variant}-${roundNumber}-${loop}-${Math.floor(iteration / 10)}`;
    const input = checkoutInput(customerId, products[(loop + iteration) % products.length]!);
    workflowIds.push(workflowIdOf(variant, input));
    return checkout(stack.client, variant, input);
  });
  const cpu = cpuBetween(before, sampleCpu(groups));
  const completed = outcome.results.length;
  const cpuMsPerCheckout = Object.fromEntries(
    Object.entries(cpu.seconds).map(([name, seconds]) => [
      name,
      completed > 0 ? round((seconds * 1000) / completed, 1) : Number.NaN,
    ]),
  );
  return {
    variant,
    round: roundNumber,
    completed,
    errors: outcome.errors.length,
    firstErrors: [...new Set(outcome.errors)].slice(0, 3),
    elapsedS: round(outcome.elapsedS, 2),
    perSecond: round(completed / outcome.elapsedS, 2),
    placeMs: distribution(outcome.results.map((result) => result.placeMs)),
    payMs: distribution(outcome.results.map((result) => result.payMs)),
    cpu,
    cpuMsPerCheckout,
    workflowIds,
  };
}

export interface Comparison {
  rounds: Omit<RoundResult, 'workflowIds'>[];
  sagaPerSecond: number;
  baselinePerSecond: number;
  /** Median of the ratios of each saga round to the baseline round next to it. */
  ratio: number;
  pairRatios: number[];
  waits: Record<
    Variant,
    {
      activityScheduleToStartMs: ReturnType<typeof distribution>;
      workflowTaskScheduleToStartMs: ReturnType<typeof distribution>;
    }
  >;
  cpuMsPerCheckout: Record<Variant, Record<string, number>>;
  /**
   * Baseline CPU per checkout / saga CPU per checkout, over the stack's processes (not this
   * driver): the ratio the throughputs tend to when CPU is the bound, and much steadier than
   * they are on a shared machine.
   */
  cpuRatio: number;
  /**
   * CPU milliseconds per completed checkout summed over every process in the loop, the driver
   * included (it stands where the API's Temporal client would): the saga's is `checkout_cpu_ms`,
   * the baseline's (the same shape, no-op activities) its floor.
   */
  checkoutCpuMs: Record<Variant, number>;
}

/** Alternating rounds of saga and baseline (ABBA...) with the worker that is running. */
export async function compare(
  context: BenchContext,
  settings: { concurrency: number; durationMs: number; rounds: number; warmupMs: number; historySample: number },
  label: string,
): Promise<Comparison> {
  const products = await createBenchProducts(context.stack.services.inventory, label, 8);
  // Warm-up: bundles cached, connections open, the JIT warm, both variants' code paths taken.
  for (const variant of ['saga', 'baseline'] as const) {
    await runRound(
      context,
      variant,
      -1,
      { concurrency: settings.concurrency, durationMs: settings.warmupMs },
      products,
      `${label}-warm`,
    );
  }
  const rounds: RoundResult[] = [];
  for (let r = 0; r < settings.rounds; r++) {
    const order: Variant[] = r % 2 === 0 ? ['saga', 'baseline'] : ['baseline', 'saga'];
    for (const variant of order) {
      const result = await runRound(context, variant, r, settings, products, label);
      rounds.push(result);
      context.log(
        `  ${label} round ${r} ${variant.padEnd(8)} ${result.perSecond.toFixed(2)}/s (${result.completed} in ${result.elapsedS}s, ` +
          `${result.errors} errors, machine ${(result.cpu.machineBusy * 100).toFixed(0)}% busy)`,
      );
      if (result.errors > 0) context.log(`    errors: ${result.firstErrors.join(' | ')}`);
    }
  }
  const perVariant = (variant: Variant) => rounds.filter((result) => result.variant === variant);
  const pairRatios: number[] = [];
  for (let r = 0; r < settings.rounds; r++) {
    const saga = rounds.find((result) => result.round === r && result.variant === 'saga')!;
    const baseline = rounds.find((result) => result.round === r && result.variant === 'baseline')!;
    pairRatios.push(round(saga.perSecond / baseline.perSecond, 3));
  }

  const waits = {} as Comparison['waits'];
  const cpuMsPerCheckout = {} as Comparison['cpuMsPerCheckout'];
  for (const variant of ['saga', 'baseline'] as const) {
    const last = perVariant(variant).at(-1)!;
    const ids = sampleEvenly(last.workflowIds, settings.historySample);
    waits[variant] = scheduleToStart((await fetchHistories(context.stack.client, ids)).values());
    const names = Object.keys(last.cpuMsPerCheckout);
    cpuMsPerCheckout[variant] = Object.fromEntries(
      names.map((name) => [
        name,
        round(median(perVariant(variant).map((result) => result.cpuMsPerCheckout[name]!)), 1),
      ]),
    );
  }
  const stackCpu = (variant: Variant) =>
    Object.entries(cpuMsPerCheckout[variant])
      .filter(([name]) => name !== 'bench')
      .reduce((sum, [, ms]) => sum + ms, 0);
  const allCpu = (variant: Variant) =>
    round(
      Object.values(cpuMsPerCheckout[variant]).reduce((sum, ms) => sum + ms, 0),
      1,
    );
  return {
    cpuRatio: round(stackCpu('baseline') / stackCpu('saga'), 3),
    checkoutCpuMs: { saga: allCpu('saga'), baseline: allCpu('baseline') },
    rounds: rounds.map(({ workflowIds: _ids, ...rest }) => rest),
    sagaPerSecond: round(median(perVariant('saga').map((result) => result.perSecond)), 2),
    baselinePerSecond: round(median(perVariant('baseline').map((result) => result.perSecond)), 2),
    ratio: round(median(pairRatios), 3),
    pairRatios,
    waits,
    cpuMsPerCheckout,
  };
}

function sampleEvenly<T>(items: readonly T[], count: number): T[] {
  if (items.length <= count) return [...items];
  const step = items.length / count;
  return Array.from({ length: count }, (_, i) => items[Math.floor(i * step)]!);
}

const fullSettings = { concurrency: 24, durationMs: 30_000, rounds: 5, warmupMs: 10_000, historySample: 40 };

export const throughputBenchmark: Benchmark = {
  name: 'throughput',
  title: 'completed checkouts/s: real saga vs a no-op baseline of the same shape, alternating rounds',
  async run(context) {
    const settings = context.quick
      ? { concurrency: 8, durationMs: 6_000, rounds: 2, warmupMs: 2_000, historySample: 8 }
      : fullSettings;
    await context.stack.ensureWorker(BENCH_TUNING);
    if (JSON.stringify(BENCH_SERVER) !== JSON.stringify(context.stack.temporalServer))
      await context.stack.restartTemporal(BENCH_SERVER);
    const comparison = await compare(context, settings, 'tp');
    const saga = comparison.cpuMsPerCheckout.saga;
    const bound = Object.entries(saga)
      .filter(([name]) => name !== 'bench')
      .sort((a, b) => b[1] - a[1])[0];
    return {
      summary:
        `saga ${comparison.sagaPerSecond}/s vs baseline ${comparison.baselinePerSecond}/s, ratio ${comparison.ratio} ` +
        `(pairs ${comparison.pairRatios.join(', ')}; CPU ratio ${comparison.cpuRatio}); ` +
        `checkout_cpu_ms ${comparison.checkoutCpuMs.saga} (baseline ${comparison.checkoutCpuMs.baseline}); saga CPU per checkout ${Object.entries(
          saga,
        )
          .map(([name, ms]) => `${name} ${ms}ms`)
          .join(', ')}`,
      headline: { saga_throughput_ratio: comparison.ratio, checkout_cpu_ms: comparison.checkoutCpuMs.saga },
      data: {
        settings,
        tuning: BENCH_TUNING,
        temporalServer: context.stack.temporalServer,
        ...comparison,
        busiestProcessPerCheckout: bound ? { name: bound[0], cpuMs: bound[1] } : null,
      },
    };
  },
};

/**
 * `npm run bench -- --only tuning` (not part of a default run): the saga/baseline comparison
 * again under each alternative of EXPLORATIONS (worker settings, load, the dev server's
 * storage and partitions, the notification hop), two shorter rounds each.
 */
export const tuningBenchmark: Benchmark = {
  name: 'tuning',
  title: 'the throughput comparison under alternative worker and dev-server settings (opt-in)',
  async run(context) {
    const settings = context.quick
      ? { ...fullSettings, concurrency: 8, durationMs: 6_000, rounds: 1, warmupMs: 2_000, historySample: 4 }
      : { ...fullSettings, rounds: 2, durationMs: 15_000, warmupMs: 5_000, historySample: 10 };
    const explorations: Array<
      { label: string; tuning: WorkerTuning; server: TemporalServerOptions; concurrency: number } & Omit<
        Comparison,
        'rounds'
      >
    > = [];
    const only = process.env.BENCH_EXPLORE?.split(',');
    for (const exploration of EXPLORATIONS.filter((e) => !only || only.includes(e.label))) {
      const server = exploration.server ?? BENCH_SERVER;
      const concurrency = exploration.concurrency ?? settings.concurrency;
      context.log(
        `  ${exploration.label}: ${JSON.stringify({ ...exploration.tuning, ...server })} at concurrency ${concurrency}`,
      );
      if (JSON.stringify(server) !== JSON.stringify(context.stack.temporalServer))
        await context.stack.restartTemporal(server);
      await context.stack.startWorker(exploration.tuning);
      const { rounds: _rounds, ...comparison } = await compare(
        context,
        { ...settings, concurrency },
        `x${explorations.length}`,
      );
      explorations.push({ label: exploration.label, tuning: exploration.tuning, server, concurrency, ...comparison });
      context.log(
        `  ${exploration.label}: saga ${comparison.sagaPerSecond}/s, baseline ${comparison.baselinePerSecond}/s, ratio ${comparison.ratio}, ` +
          `CPU ratio ${comparison.cpuRatio}, CPU ms per saga checkout ${JSON.stringify(comparison.cpuMsPerCheckout.saga)}`,
      );
    }
    if (JSON.stringify(BENCH_SERVER) !== JSON.stringify(context.stack.temporalServer))
      await context.stack.restartTemporal(BENCH_SERVER);
    // Sweeps are run a few labels at a time (BENCH_EXPLORE): keep the latest of every label.
    const file = path.join(__dirname, '..', 'results', 'tuning.json');
    const earlier =
      !context.quick && existsSync(file)
        ? ((JSON.parse(readFileSync(file, 'utf8')) as { explorations?: Array<{ label: string }> }).explorations ?? [])
        : [];
    const measuredAt = new Date().toISOString();
    const merged = [
      ...earlier.filter((e) => !explorations.some((x) => x.label === e.label)),
      ...explorations.map((e) => ({ ...e, measuredAt, loadAverage: context.machine.loadAverage })),
    ];
    return {
      summary: explorations
        .map((e) => `${e.label} ${e.sagaPerSecond}/${e.baselinePerSecond}/s ratio ${e.ratio} cpu ${e.cpuRatio}`)
        .join('; '),
      headline: {},
      data: { settings, explorations: merged },
    };
  },
};
