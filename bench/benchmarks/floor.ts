/**
 * The engine's floor: the least a placement can cost on the server and worker the benchmarks
 * use. One customer at a time, update-with-start of `floorWorkflow` whose update answers after
 * N sequential no-op activities (N = 1 and N = 4, interleaved). The cost of one sequential
 * activity is (p50(N=4) − p50(N=1)) / 3; the histories say how much of it is dispatch
 * (schedule-to-start of activity and workflow tasks).
 *
 * Two variants of the dev server alternate in ABBA order (each switch restarts the server and
 * the worker): as `npm start` runs it (DEV_SERVER_DYNAMIC_CONFIG and DEV_SERVER_SQLITE_PRAGMAS),
 * and with both back at the defaults of the server and of SQLite, which is what held the floor
 * before.
 */
import { WithStartWorkflowOperation } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { DEV_SERVER_DYNAMIC_CONFIG, DEV_SERVER_SQLITE_PRAGMAS } from '../../devstack/dev-servers';
import { TASK_QUEUES } from '../../workflows/contract';
import type { BenchContext, Benchmark } from '../lib/context';
import { fetchHistories, scheduleToStart } from '../lib/histories';
import type { TemporalServerOptions } from '../lib/stack';
import { distribution, median, round, type Distribution } from '../lib/stats';
import { BENCH_SERVER, BENCH_TUNING } from '../lib/tuning-choices';
import { floorPlacedUpdate, type FloorInput } from '../workflows/floor.workflow';

const STEPS = [1, 4] as const;
/** The Temporal server's own default for the limit the dev server now raises. */
const SERVER_DEFAULT_TRANSFER_POLL_RPS = 20;
/** SQLite's defaults for the pragmas the dev server now sets. */
const SQLITE_DEFAULT_PRAGMAS = ['journal_mode=delete', 'synchronous=full'];

type VariantName = 'as-run' | 'defaults';

const VARIANTS: Record<VariantName, TemporalServerOptions> = {
  'as-run': BENCH_SERVER,
  defaults: {
    ...BENCH_SERVER,
    // Given after temporalDevServerArgs' own values on the command line, so they win.
    sqlitePragmas: [...(BENCH_SERVER.sqlitePragmas ?? []), ...SQLITE_DEFAULT_PRAGMAS],
    dynamicConfig: [
      ...(BENCH_SERVER.dynamicConfig ?? []),
      `history.transferProcessorMaxPollRPS=${SERVER_DEFAULT_TRANSFER_POLL_RPS}`,
    ],
  },
};

interface VariantFigures {
  /** Placement (update-with-start until the update answers), per N. */
  placeMs: Record<string, Distribution>;
  /** (p50(N=4) − p50(N=1)) / 3, the median over rounds. */
  activityStepMs: number;
  activityScheduleToStartMs: Distribution;
  workflowTaskScheduleToStartMs: Distribution;
}

/** One floor placement: update-with-start until the update answers after `steps` activities. */
export async function placeFloor(context: BenchContext, steps: number): Promise<{ ms: number; workflowId: string }> {
  const workflowId = `bench-floor-${randomUUID()}`;
  const input: FloorInput = { orderId: workflowId, steps };
  const begun = performance.now();
  await context.stack.client.workflow.executeUpdateWithStart(floorPlacedUpdate, {
    startWorkflowOperation: new WithStartWorkflowOperation('floorWorkflow', {
      taskQueue: TASK_QUEUES.checkout,
      workflowId,
      args: [input],
      workflowIdConflictPolicy: 'USE_EXISTING',
    }),
  });
  return { ms: performance.now() - begun, workflowId };
}

export const floorBenchmark: Benchmark = {
  name: 'floor',
  title:
    'the engine floor: update-with-start answered after 1 and 4 sequential no-op activities (activity_step_ms, dispatch delays)',
  async run(context) {
    const { stack } = context;
    const settings = context.quick ? { callsPerStepPerRound: 8, warmup: 2 } : { callsPerStepPerRound: 30, warmup: 5 };
    const order: VariantName[] = ['as-run', 'defaults', 'defaults', 'as-run'];
    const rounds: Array<{
      variant: VariantName;
      round: number;
      loadAverage: number[];
      placeMs: Record<string, Distribution>;
      activityStepMs: number;
    }> = [];
    const workflowIds: Record<VariantName, string[]> = { 'as-run': [], defaults: [] };
    const histories: Record<VariantName, Awaited<ReturnType<typeof fetchHistories>>[]> = { 'as-run': [], defaults: [] };

    for (const [index, variant] of order.entries()) {
      const server = VARIANTS[variant];
      if (JSON.stringify(server) !== JSON.stringify(stack.temporalServer)) {
        // The histories live on the server being replaced: read them first.
        for (const name of Object.keys(workflowIds) as VariantName[]) {
          if (workflowIds[name].length > 0)
            histories[name].push(await fetchHistories(stack.client, workflowIds[name].splice(0)));
        }
        await stack.restartTemporal(server);
      }
      await stack.ensureWorker(BENCH_TUNING);
      for (let i = 0; i < settings.warmup; i++) await placeFloor(context, 1);
      const samples: Record<string, number[]> = Object.fromEntries(STEPS.map((steps) => [String(steps), []]));
      for (let i = 0; i < settings.callsPerStepPerRound; i++) {
        for (const steps of STEPS) {
          const { ms, workflowId } = await placeFloor(context, steps);
          samples[String(steps)]!.push(ms);
          workflowIds[variant].push(workflowId);
        }
      }
      const placeMs = Object.fromEntries(
        Object.entries(samples).map(([steps, values]) => [steps, distribution(values)]),
      );
      const activityStepMs = round((placeMs['4']!.p50 - placeMs['1']!.p50) / 3, 1);
      const loadAverage = os.loadavg().map((load) => round(load));
      rounds.push({ variant, round: index, loadAverage, placeMs, activityStepMs });
      context.log(
        `  round ${index} ${variant.padEnd(8)} N=1 p50 ${placeMs['1']!.p50} ms, N=4 p50 ${placeMs['4']!.p50} ms: ${activityStepMs} ms per activity (load ${loadAverage.join(' ')})`,
      );
    }
    for (const name of Object.keys(workflowIds) as VariantName[]) {
      if (workflowIds[name].length > 0)
        histories[name].push(await fetchHistories(stack.client, workflowIds[name].splice(0)));
    }
    if (JSON.stringify(BENCH_SERVER) !== JSON.stringify(stack.temporalServer))
      await stack.restartTemporal(BENCH_SERVER);

    const figures = Object.fromEntries(
      (Object.keys(VARIANTS) as VariantName[]).map((variant) => {
        const mine = rounds.filter((r) => r.variant === variant);
        const waits = scheduleToStart(histories[variant].flatMap((map) => [...map.values()]));
        const placeMs = Object.fromEntries(
          STEPS.map((steps) => [String(steps), distribution(mine.map((r) => r.placeMs[String(steps)]!.p50))]),
        );
        const result: VariantFigures = {
          placeMs,
          activityStepMs: round(median(mine.map((r) => r.activityStepMs)), 1),
          activityScheduleToStartMs: waits.activityScheduleToStartMs,
          workflowTaskScheduleToStartMs: waits.workflowTaskScheduleToStartMs,
        };
        return [variant, result];
      }),
    ) as Record<VariantName, VariantFigures>;
    const asRun = figures['as-run'];
    const before = figures.defaults;
    const line = (f: VariantFigures) =>
      `N=1 p50 ${f.placeMs['1']!.p50} ms, N=4 ${f.placeMs['4']!.p50} ms, activity_step_ms ${f.activityStepMs}, ` +
      `dispatch p50 activity ${f.activityScheduleToStartMs.p50} / workflow task ${f.workflowTaskScheduleToStartMs.p50} ms`;
    return {
      summary: `as npm start runs it: ${line(asRun)}; with the server's and SQLite's defaults (transferProcessorMaxPollRPS=${SERVER_DEFAULT_TRANSFER_POLL_RPS}, ${SQLITE_DEFAULT_PRAGMAS.join(', ')}): ${line(before)}`,
      headline: { activity_step_ms: asRun.activityStepMs },
      data: {
        settings,
        devServerDynamicConfig: DEV_SERVER_DYNAMIC_CONFIG,
        devServerSqlitePragmas: DEV_SERVER_SQLITE_PRAGMAS,
        variants: VARIANTS,
        figures,
        rounds,
      },
    };
  },
};
