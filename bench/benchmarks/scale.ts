/**
 * Scale (opt-in, `npm run bench -- --only scale`): how the costs grow with more of each thing.
 * - Workers: completed checkouts/s of the real saga with 1, 2 and 3 worker processes that each
 *   poll every queue, and with the queues split over three processes (`--services`), in a closed
 *   loop at one concurrency; the layouts rotate from round to round so none always runs first.
 *   With CPU per checkout per process group, which says whether a layout moves the bound.
 * - Streams: the notification latency and the API's memory per stream with 500 and with 2,000
 *   streams open on one API process, the same number of users crossing their limit in both.
 * Timers at 10,000 orders over ten minutes are the timers benchmark at that size:
 * `BENCH_TIMERS_ORDERS=10000 npm run bench -- --only timers`.
 */
import { createBenchProducts } from '../lib/checkout-driver';
import type { Benchmark } from '../lib/context';
import { BENCH_QUEUES } from '../lib/stack';
import { median, round } from '../lib/stats';
import { BENCH_TUNING } from '../lib/tuning-choices';
import type { WorkerQueue } from '../../worker/workers';
import { measureSse } from './sse';
import { runRound, type RoundResult } from './throughput';

const only = (...queues: WorkerQueue[]): WorkerQueue[] => queues;

/** Worker layouts, each a list of processes and the queues each polls. */
const LAYOUTS: Record<string, ReadonlyArray<readonly WorkerQueue[]>> = {
  'one process': [BENCH_QUEUES],
  'two processes': [BENCH_QUEUES, BENCH_QUEUES],
  'three processes': [BENCH_QUEUES, BENCH_QUEUES, BENCH_QUEUES],
  // The workflows apart from the services that do the database and Stripe work.
  'split in three': [only('checkout', 'notifications'), only('inventory', 'orders', 'cart'), only('payments', 'quota')],
};

export const scaleBenchmark: Benchmark = {
  name: 'scale',
  title:
    'checkouts/s with 1, 2, 3 worker processes and the queues split; SSE latency and memory at 500 and 2,000 streams (opt-in)',
  async run(context) {
    const { stack } = context;
    const settings = context.quick
      ? { rounds: 1, durationMs: 6_000, warmupMs: 2_000, concurrency: 8, streams: [50, 200], crossings: 40 }
      : { rounds: 2, durationMs: 30_000, warmupMs: 5_000, concurrency: 24, streams: [500, 2_000], crossings: 500 };
    const products = await createBenchProducts(stack.services.inventory, `scale-${stack.runId}`, 8);
    const names = Object.keys(LAYOUTS);
    const rounds: Array<{ layout: string; processes: number } & Omit<RoundResult, 'workflowIds'>> = [];
    for (let r = 0; r < settings.rounds; r++) {
      const order = names.map((_, i) => names[(i + r) % names.length]!);
      for (const layout of order) {
        const processes = LAYOUTS[layout]!;
        await stack.startWorkers(BENCH_TUNING, processes);
        const measure = { concurrency: settings.concurrency, durationMs: settings.durationMs };
        // A label of its own per layout and round: a customer places ten orders at most (the free plan allows 20).
        const label = `sc-${r}-${names.indexOf(layout)}`;
        await runRound(context, 'saga', -1, { ...measure, durationMs: settings.warmupMs }, products, `${label}-warm`);
        const { workflowIds: _ids, ...result } = await runRound(context, 'saga', r, measure, products, label);
        rounds.push({ layout, processes: processes.length, ...result });
        context.log(
          `  round ${r} ${layout.padEnd(15)} ${result.perSecond}/s, placement p50 ${result.placeMs.p50} ms, ${result.errors} errors, ` +
            `CPU ms per checkout ${JSON.stringify(result.cpuMsPerCheckout)}`,
        );
      }
    }
    const workers = names.map((layout) => {
      const of = rounds.filter((result) => result.layout === layout);
      const groups = Object.keys(of[0]!.cpuMsPerCheckout);
      return {
        layout,
        processes: LAYOUTS[layout]!.length,
        perSecond: round(median(of.map((result) => result.perSecond)), 2),
        placeP50Ms: round(median(of.map((result) => result.placeMs.p50)), 1),
        placeP99Ms: round(median(of.map((result) => result.placeMs.p99)), 1),
        errors: of.reduce((sum, result) => sum + result.errors, 0),
        cpuMsPerCheckout: Object.fromEntries(
          groups.map((group) => [group, round(median(of.map((result) => result.cpuMsPerCheckout[group]!)), 1)]),
        ),
        machineBusy: round(median(of.map((result) => result.cpu.machineBusy)), 2),
      };
    });

    // One worker process again for the streams: what grows here is the API's side.
    await stack.ensureWorker(BENCH_TUNING);
    const streams = [];
    for (const clients of settings.streams) {
      const measured = await measureSse(context, {
        clients,
        crossings: settings.crossings,
        crossingsPerSecond: 10,
        timeoutMs: 120_000,
      });
      context.log(`  ${clients} streams: ${measured.summary}`);
      streams.push({
        clients,
        crossings: settings.crossings,
        latencyMs: measured.latency,
        perConnectionKiB: measured.perConnectionKiB,
        ...measured.data,
      });
    }

    const one = workers[0]!.perSecond;
    return {
      summary:
        workers.map((w) => `${w.layout} ${w.perSecond}/s (×${round(w.perSecond / one, 2)})`).join(', ') +
        '; ' +
        streams.map((s) => `${s.clients} streams p99 ${s.latencyMs.p99} ms, ${s.perConnectionKiB} KiB each`).join(', '),
      headline: {},
      data: { settings, workers, streams, rounds },
    };
  },
};
