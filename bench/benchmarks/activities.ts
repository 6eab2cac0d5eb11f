/**
 * Where one checkout's cost goes, per activity type, in the worker: CPU, statements and round
 * trips to PostgreSQL (bench/lib/activity-profile.ts), one checkout at a time so that the
 * per-activity CPU, a whole-process figure, is blurred only by what the saga itself runs side
 * by side. Then the baseline's checkouts (every activity a no-op) give the no-op activity's row,
 * what the SDK alone costs per activity. Also the CPU per checkout of every process at this
 * concurrency (the throughput benchmark's `checkout_cpu_ms` is under load).
 */
import { checkout, checkoutInput, createBenchProducts, workflowIdOf, type Variant } from '../lib/checkout-driver';
import {
  ACTIVITY_PROFILE_ENV,
  profileBetween,
  readActivityProfile,
  type ActivityProfile,
} from '../lib/activity-profile';
import type { BenchContext, Benchmark } from '../lib/context';
import { cpuBetween, sampleCpu } from '../lib/cpu';
import { round } from '../lib/stats';
import { BENCH_TUNING } from '../lib/tuning-choices';
import { cpuGroups } from './throughput';
import type { ProductView } from '../../services/inventory/inventory.service';

interface ActivityRow {
  activity: string;
  calls: number;
  cpuMsPerCall: number;
  wallMsPerCall: number;
  statementsPerCall: number;
  roundTripsPerCall: number;
  /** Round trips per call by the start of their SQL text, most first. */
  queriesPerCall: Record<string, number>;
}

const SETTLE_POLL_MS = 250;

/** The worker's totals once they stop changing: the last activities of a checkout run after its workflow's result. */
async function settledProfile(context: BenchContext, pid: number | undefined): Promise<ActivityProfile> {
  const calls = (profile: ActivityProfile) => Object.values(profile).reduce((sum, totals) => sum + totals.calls, 0);
  let last = readActivityProfile(context.stack.memoryDir, pid);
  for (let stable = 0; stable < 3;) {
    await new Promise((resolve) => setTimeout(resolve, SETTLE_POLL_MS));
    const now = readActivityProfile(context.stack.memoryDir, pid);
    stable = calls(now) === calls(last) ? stable + 1 : 0;
    last = now;
  }
  return last;
}

async function sequentialCheckouts(
  context: BenchContext,
  variant: Variant,
  count: number,
  products: ProductView[],
  label: string,
): Promise<void> {
  for (let i = 0; i < count; i++) {
    const input = checkoutInput(`act-${label}-${variant}-${Math.floor(i / 10)}`, products[i % products.length]!);
    await checkout(context.stack.client, variant, input);
    // The rest of the saga (stock committed, cart cleared, COMPLETED) runs before the next checkout starts.
    await context.stack.client.workflow.getHandle(workflowIdOf(variant, input)).result();
  }
}

function rowsOf(profile: ActivityProfile): ActivityRow[] {
  return Object.entries(profile)
    .map(([activity, totals]) => ({
      activity,
      calls: totals.calls,
      cpuMsPerCall: round(totals.cpuMs / totals.calls, 2),
      wallMsPerCall: round(totals.wallMs / totals.calls, 2),
      statementsPerCall: round(totals.statements / totals.calls, 1),
      roundTripsPerCall: round(totals.roundTrips / totals.calls, 1),
      queriesPerCall: Object.fromEntries(
        Object.entries(totals.queries)
          .sort((a, b) => b[1] - a[1])
          .map(([text, count]) => [text, round(count / totals.calls, 2)]),
      ),
    }))
    .sort((a, b) => b.cpuMsPerCall - a.cpuMsPerCall);
}

function table(rows: ActivityRow[]): string[] {
  const header = ['activity', 'calls', 'CPU ms', 'wall ms', 'statements', 'round trips'];
  const cells = rows.map((row) => [
    row.activity,
    String(row.calls),
    row.cpuMsPerCall.toFixed(2),
    row.wallMsPerCall.toFixed(2),
    row.statementsPerCall.toFixed(1),
    row.roundTripsPerCall.toFixed(1),
  ]);
  const widths = header.map((title, i) => Math.max(title.length, ...cells.map((line) => line[i]!.length)));
  const line = (values: string[]) =>
    `  | ${values.map((value, i) => (i === 0 ? value.padEnd(widths[i]!) : value.padStart(widths[i]!))).join(' | ')} |`;
  return [line(header), `  | ${widths.map((width) => '-'.repeat(width)).join(' | ')} |`, ...cells.map(line)];
}

export const activitiesBenchmark: Benchmark = {
  name: 'activities',
  title: 'per activity type in the worker, one checkout at a time: CPU, statements and round trips to PostgreSQL',
  async run(context) {
    const { stack } = context;
    const settings = context.quick ? { warmup: 2, saga: 8, baseline: 4 } : { warmup: 5, saga: 40, baseline: 20 };
    stack.workerEnv[ACTIVITY_PROFILE_ENV] = stack.memoryDir;
    try {
      const worker = await stack.ensureWorker(BENCH_TUNING);
      const pid = worker.process.pid;
      const products = await createBenchProducts(stack.services.inventory, `activities-${stack.runId}`, 8);
      for (const variant of ['saga', 'baseline'] as const)
        await sequentialCheckouts(context, variant, settings.warmup, products, 'warm');

      const profiles = {} as Record<Variant, ActivityProfile>;
      const checkoutCpuMs = {} as Record<Variant, Record<string, number>>;
      for (const variant of ['saga', 'baseline'] as const) {
        const before = await settledProfile(context, pid);
        const cpuBefore = sampleCpu(cpuGroups(stack));
        await sequentialCheckouts(context, variant, settings[variant], products, 'run');
        const after = await settledProfile(context, pid);
        const cpu = cpuBetween(cpuBefore, sampleCpu(cpuGroups(stack)));
        profiles[variant] = profileBetween(before, after);
        const perCheckout = Object.fromEntries(
          Object.entries(cpu.seconds).map(([name, seconds]) => [name, round((seconds * 1000) / settings[variant], 1)]),
        );
        checkoutCpuMs[variant] = {
          ...perCheckout,
          all: round(
            Object.values(perCheckout).reduce((sum, ms) => sum + ms, 0),
            1,
          ),
        };
      }
      const rows = rowsOf(profiles.saga);
      const noop = rowsOf(profiles.baseline).find((row) => row.activity === 'benchNoop');
      const perCheckout = (pick: (totals: ActivityProfile[string]) => number) =>
        round(Object.values(profiles.saga).reduce((sum, totals) => sum + pick(totals), 0) / settings.saga, 1);
      const sagaTotals = {
        activityCpuMs: perCheckout((totals) => totals.cpuMs),
        statements: perCheckout((totals) => totals.statements),
        roundTrips: perCheckout((totals) => totals.roundTrips),
      };
      context.log(
        `  per activity, ${settings.saga} saga checkouts one at a time (per call; CPU of the whole worker process):`,
      );
      for (const line of table(noop ? [...rows, { ...noop, activity: 'benchNoop (baseline)' }] : rows))
        context.log(line);
      for (const row of rows) {
        context.log(`  ${row.activity}, round trips per call by their SQL:`);
        for (const [text, count] of Object.entries(row.queriesPerCall)) context.log(`    ${count}  ${text}`);
      }
      context.log(
        `  per saga checkout: activities ${sagaTotals.activityCpuMs} ms CPU, ${sagaTotals.statements} statements, ${sagaTotals.roundTrips} round trips; ` +
          `all processes ${checkoutCpuMs.saga.all} ms (baseline ${checkoutCpuMs.baseline.all} ms)`,
      );
      return {
        summary:
          `one checkout at a time: ${sagaTotals.statements} statements, ${sagaTotals.roundTrips} round trips to PostgreSQL and ` +
          `${sagaTotals.activityCpuMs} ms of worker CPU in activities per saga checkout (a no-op activity ${noop?.cpuMsPerCall ?? 'n/a'} ms); ` +
          `CPU per checkout, every process: saga ${checkoutCpuMs.saga.all} ms, baseline ${checkoutCpuMs.baseline.all} ms; ` +
          `costliest ${rows
            .slice(0, 3)
            .map((row) => `${row.activity} ${row.cpuMsPerCall} ms / ${row.roundTripsPerCall} round trips`)
            .join(', ')}`,
        headline: {},
        data: {
          settings,
          activities: rows,
          noopActivity: noop ?? null,
          perSagaCheckout: sagaTotals,
          checkoutCpuMsAtConcurrency1: checkoutCpuMs,
          definitions: {
            cpuMsPerCall:
              "process.cpuUsage() of the worker process from the activity's start to its end: whatever ran meanwhile (activities side by side, workflow tasks, the SDK's threads) is included",
            roundTripsPerCall:
              'pg Client.query calls issued from the activity (pg does not pipeline: each waits for its answer)',
            statementsPerCall:
              'those round trips that are not transaction control (BEGIN, COMMIT, ROLLBACK, SAVEPOINT, ...)',
            checkoutCpuMsAtConcurrency1:
              'CPU ms per checkout of each process group from /proc (dev server, worker, stripe-mock, the run’s PostgreSQL backends, the driver) and their sum, one checkout at a time, idle polling included',
          },
        },
      };
    } finally {
      // The next benchmark's ensureWorker starts a worker without the profile.
      delete stack.workerEnv[ACTIVITY_PROFILE_ENV];
    }
  },
};
