/**
 * Soak: a steady mix at about 60 % of capacity — orders placed and paid, placed and cancelled
 * through the API, placed and left to expire, with live notification streams open throughout — for
 * 20 minutes (BENCH_SOAK_SECONDS for another length), the API's and the worker's resident memory
 * sampled all along. After the warm-up: each process's RSS floor slope (MB per 10 minutes), the same
 * over the run's second half, the slope of the heap each full collection leaves, the errors, and how
 * the placement p99 drifts from the first third of the run to the last.
 * `--quick` is the same shape in one minute: a smoke check of the harness, too short for a slope.
 */
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { checkoutInput, closedLoop, createBenchProducts, place } from '../lib/checkout-driver';
import type { Benchmark } from '../lib/context';
import { callJson } from '../lib/http';
import { residentKiB } from '../lib/machine';
import { readMemoryProbe } from '../lib/memory';
import { secondHalfFloorSlope, slopePerSecond, windowFloors } from '../lib/memory-slopes';
import { openSse, type SseStream } from '../lib/sse';
import type { BenchApi, BenchStack } from '../lib/stack';
import { distribution, percentile, round } from '../lib/stats';
import { BENCH_TUNING } from '../lib/tuning-choices';
import type { ProductView } from '../../services/inventory/inventory.service';

type Outcome = 'paid' | 'cancelled' | 'expiring';

/** Seven in ten orders are paid, two cancelled, one left to expire (a short time-to-live, set through the client). */
const outcomeOf = (i: number): Outcome => (i % 10 < 7 ? 'paid' : i % 10 < 9 ? 'cancelled' : 'expiring');
const EXPIRING_TTL_S = 5;

/**
 * BENCH_SOAK_MAX_CACHED_WORKFLOWS=<n> bounds the worker's sticky cache for the run (the SDK's default
 * is about 2,300 workflows per worker on this heap), to tell a cache that fills from a leak.
 */
function soakTuning(env: NodeJS.ProcessEnv = process.env): typeof BENCH_TUNING {
  const raw = env.BENCH_SOAK_MAX_CACHED_WORKFLOWS?.trim();
  if (!raw) return BENCH_TUNING;
  const maxCachedWorkflows = Number(raw);
  if (!Number.isInteger(maxCachedWorkflows) || maxCachedWorkflows < 2)
    throw new Error(`BENCH_SOAK_MAX_CACHED_WORKFLOWS must be an integer of at least 2, got "${raw}"`);
  return { ...BENCH_TUNING, maxCachedWorkflows };
}

/**
 * The soak whose RSS slope is the summary's; BENCH_SOAK_SECONDS runs another length, written apart
 * (soak-<seconds>.json). A soak of at least an hour also brings the summary the figures only a
 * long run can tell: whether the heap the collections leave still rises, and whether resident
 * memory has levelled off by the second half.
 */
const STANDARD_SOAK_S = 1_200;
const LONG_SOAK_S = 3_600;

function soakSeconds(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.BENCH_SOAK_SECONDS?.trim();
  if (!raw) return STANDARD_SOAK_S;
  const seconds = Number(raw);
  if (!Number.isInteger(seconds) || seconds < 600)
    throw new Error(`BENCH_SOAK_SECONDS must be a whole number of seconds, at least 600, got "${raw}"`);
  return seconds;
}

/**
 * The sustainable rate a full curve run measured (bench/results/curve.json), if there is one: a
 * figure of many minutes on an open loop, where the soak's own calibration is 30 s of a closed loop.
 */
function sustainableRateFromCurve(file = path.resolve(__dirname, '../results/curve.json')): number | undefined {
  if (!existsSync(file)) return undefined;
  const record = JSON.parse(readFileSync(file, 'utf8')) as {
    quick?: boolean;
    sustainable_checkouts_per_s?: unknown;
    headline?: { sustainable_checkouts_per_s?: unknown };
  };
  const rate = record.headline?.sustainable_checkouts_per_s ?? record.sustainable_checkouts_per_s;
  return record.quick !== true && typeof rate === 'number' && rate > 0 ? rate : undefined;
}

/**
 * A customer places at most five orders: the free plan holds five unpaid orders at once (its
 * holding limit), and orders left to expire or slowed by the load can all be unpaid together.
 */
const ORDERS_PER_CUSTOMER = 5;
const customerOf = (runId: string, i: number) => `soak-${runId}-${Math.floor(i / ORDERS_PER_CUSTOMER)}`;

async function placeViaApi(
  api: BenchApi,
  customerId: string,
  product: ProductView,
): Promise<{ id: string; ms: number }> {
  const placed = await callJson<{ id: string; status: string }>(`${api.baseUrl}/v1/orders`, {
    method: 'POST',
    token: api.token(customerId),
    headers: { 'idempotency-key': randomUUID() },
    body: { items: [{ productId: product.id, quantity: 1 }] },
  });
  if (placed.status !== 201 || placed.body.status !== 'AWAITING_PAYMENT')
    throw new Error(`POST /v1/orders answered ${placed.status} ${JSON.stringify(placed.body).slice(0, 160)}`);
  return { id: placed.body.id, ms: placed.ms };
}

async function settle(
  api: BenchApi,
  customerId: string,
  orderId: string,
  outcome: 'paid' | 'cancelled',
): Promise<void> {
  const path = outcome === 'paid' ? 'payment' : 'cancel';
  const answer = await callJson<{ status: string }>(`${api.baseUrl}/v1/orders/${orderId}/${path}`, {
    method: 'POST',
    token: api.token(customerId),
    body: outcome === 'paid' ? { paymentMethod: 'pm_card_visa' } : { reason: 'soak' },
  });
  const expected = outcome === 'paid' ? ['PAID', 'COMPLETED'] : ['CANCELLED'];
  if (answer.status !== 200 || !expected.includes(answer.body.status))
    throw new Error(
      `POST /v1/orders/:id/${path} answered ${answer.status} ${JSON.stringify(answer.body).slice(0, 160)}`,
    );
}

/** The worker's cached workflows, summed over its queues, from the SDK's Prometheus gauge. */
async function cachedWorkflows(metricsUrl: string): Promise<number> {
  try {
    const text = await (await fetch(metricsUrl, { signal: AbortSignal.timeout(2_000) })).text();
    const values = [...text.matchAll(/^temporal_sticky_cache_size(?:\{[^}]*\})? (\S+)$/gm)].map((m) => Number(m[1]));
    return values.length === 0 ? Number.NaN : values.reduce((sum, value) => sum + value, 0);
  } catch {
    return Number.NaN;
  }
}

/** One order of the mix, to its outcome; the placement's latency in ms. */
async function runOrder(
  stack: BenchStack,
  api: BenchApi,
  outcome: Outcome,
  customerId: string,
  product: ProductView,
): Promise<number> {
  if (outcome === 'expiring') {
    const started = performance.now();
    const state = await place(stack.client, 'saga', checkoutInput(customerId, product, EXPIRING_TTL_S));
    if (state.status !== 'AWAITING_PAYMENT') throw new Error(`placement ended ${state.status}`);
    return performance.now() - started;
  }
  const placed = await placeViaApi(api, customerId, product);
  await settle(api, customerId, placed.id, outcome);
  return placed.ms;
}

/**
 * Where a process's resident memory went after the warm-up, from its memory probe, as floor slopes
 * (MB per 10 minutes, as windowFloors): the heap left by each full collection and the heap V8 has
 * committed, each summed over the process's threads (the worker runs its workflows in a thread),
 * and resident memory outside those heaps (native code and buffers: the resident slope less them).
 */
function heapSlopes(
  threads: ReturnType<typeof readMemoryProbe>,
  begunAt: number,
  settings: { warmupS: number; floorWindowS: number },
) {
  const floorSlope = (points: Array<{ t: number; y: number }>) =>
    (slopePerSecond(windowFloors(points, settings.floorWindowS)) * 600) / 1024 ** 2;
  const floorsMiB = (points: Array<{ t: number; y: number }>) =>
    windowFloors(points, settings.floorWindowS).map((point) => round(point.y / 1024 ** 2, 1));
  const perThread = threads.map((lines) => {
    const afterWarmup = lines
      .map((line) => ({ ...line, t: (line.at - begunAt) / 1000 }))
      .filter((line) => line.t >= settings.warmupS);
    const samples = afterWarmup.flatMap((line) => (line.kind === 'sample' ? [line] : []));
    const collections = afterWarmup.flatMap((line) => (line.kind === 'full-gc' ? [line] : []));
    const live = collections.map((collection) => ({ t: collection.t, y: collection.heapUsed }));
    const committed = samples.map((sample) => ({ t: sample.t, y: sample.heapTotal }));
    return {
      resident: floorSlope(samples.map((sample) => ({ t: sample.t, y: sample.rss }))),
      liveHeap: floorSlope(live),
      heapCommitted: floorSlope(committed),
      fullCollections: collections.length,
      windowFloorsMiB: { liveHeap: floorsMiB(live), heapCommitted: floorsMiB(committed) },
    };
  });
  // A thread without two windows of samples (a short run's workflow thread may collect once) has no
  // slope to add; the other threads' still tell. NaN when no thread has one.
  const sum = (key: 'liveHeap' | 'heapCommitted') => {
    const measured = perThread.map((thread) => thread[key]).filter(Number.isFinite);
    return measured.length === 0 ? Number.NaN : measured.reduce((total, slope) => total + slope, 0);
  };
  return {
    liveHeap: round(sum('liveHeap'), 2),
    heapCommitted: round(sum('heapCommitted'), 2),
    outsideHeap: round((perThread[0]?.resident ?? Number.NaN) - sum('heapCommitted'), 2),
    fullCollections: perThread.reduce((total, thread) => total + thread.fullCollections, 0),
    /** Each thread's floors, window by window: whether a slope levels off. */
    threadWindowFloorsMiB: perThread.map((thread) => thread.windowFloorsMiB),
  };
}

export const soakBenchmark: Benchmark = {
  name: 'soak',
  title:
    '20 minutes at about 60 % of capacity (pay, cancel, expire, streams): RSS and heap slopes of the API and the worker, errors, p99 drift',
  async run(context) {
    const { stack } = context;
    const settings = context.quick
      ? {
          calibrateS: 10,
          calibrationConcurrency: 4,
          runS: 60,
          warmupS: 15,
          sampleEveryS: 2,
          floorWindowS: 10,
          streams: 5,
          loadShare: 0.6,
          maxInFlight: 32,
        }
      : {
          calibrateS: 30,
          calibrationConcurrency: 8,
          // BENCH_SOAK_SECONDS=<n> soaks longer, to see whether a slope levels off.
          runS: soakSeconds(),
          warmupS: 180,
          sampleEveryS: 10,
          /** Windows whose lowest RSS samples make the floor slope (see windowFloors). */
          floorWindowS: 120,
          streams: 50,
          loadShare: 0.6,
          maxInFlight: 64,
        };
    const tuning = soakTuning();
    const worker = await stack.ensureWorker(tuning);
    const api = await stack.startApi();
    const products = await createBenchProducts(stack.services.inventory, `soak-${stack.runId}`, 8);
    const calibrate = async () => {
      const calibration = await closedLoop(
        settings.calibrationConcurrency,
        settings.calibrateS * 1000,
        async (loop, iteration) => {
          const customerId = `soak-cal-${stack.runId}-${loop}-${Math.floor(iteration / ORDERS_PER_CUSTOMER)}`;
          const product = products[iteration % products.length]!;
          await runOrder(stack, api, outcomeOf(iteration), customerId, product);
        },
      );
      return {
        perS: calibration.results.length / calibration.elapsedS,
        source: 'the mix in a closed loop',
        errors: calibration.errors.length,
      };
    };

    // Capacity: the curve's sustainable rate from a full run if there is one; otherwise orders of the
    // soak's own mix per second a closed loop sustains right now (a capacity of paid orders alone
    // overstates it: expiries, cancels and streams cost more per order).
    const fromCurve = context.quick ? undefined : sustainableRateFromCurve();
    const capacity = fromCurve === undefined ? await calibrate() : { perS: fromCurve, source: 'curve.json', errors: 0 };
    const capacityPerS = capacity.perS;
    const ratePerS = Math.max(0.2, capacityPerS * settings.loadShare);
    context.log(
      `  capacity ${capacityPerS.toFixed(2)} orders/s (${capacity.source}, ${capacity.errors} errors); soaking at ${ratePerS.toFixed(2)}/s for ${settings.runS}s`,
    );

    // Streams for the first customers, open from start to end: their order status events flow through them.
    const streams: SseStream[] = [];
    let streamEvents = 0;
    for (let k = 0; k < settings.streams; k++) {
      const stream = openSse(
        `${api.baseUrl}/v1/notifications/stream?access_token=${encodeURIComponent(api.token(customerOf(stack.runId, k * ORDERS_PER_CUSTOMER)))}`,
      );
      stream.onEvent((event) => {
        if (event.event === 'order' || event.event === 'notification') streamEvents += 1;
      });
      streams.push(stream);
    }
    await Promise.all(streams.map((stream) => stream.opened));

    const pids = stack.pids();
    const begun = performance.now();
    const begunAt = Date.now();
    const elapsedS = () => (performance.now() - begun) / 1000;
    type MemorySample = { t: number; apiKiB: number; workerKiB: number; temporalKiB: number; cached: number };
    const memory: MemorySample[] = [];
    const sampling: Promise<void>[] = [];
    const sample = () => {
      const point: MemorySample = {
        t: round(elapsedS(), 1),
        apiKiB: residentKiB(pids.api),
        workerKiB: residentKiB(pids.worker),
        temporalKiB: residentKiB(pids.temporal),
        cached: Number.NaN,
      };
      memory.push(point);
      sampling.push(cachedWorkflows(worker.metricsUrl).then((cached) => void (point.cached = cached)));
    };
    sample();
    const sampler = setInterval(sample, settings.sampleEveryS * 1000);

    // Open loop: a new order every 1/rate seconds, whatever the ones before are doing (bounded in flight).
    const placements: Array<{ t: number; ms: number }> = [];
    const errors: string[] = [];
    const counts: Record<Outcome, number> = { paid: 0, cancelled: 0, expiring: 0 };
    let skipped = 0;
    let inFlight = 0;
    const running: Promise<void>[] = [];
    try {
      for (let i = 0; ; i++) {
        const due = (i / ratePerS) * 1000;
        if (due >= settings.runS * 1000) break;
        const wait = due - (performance.now() - begun);
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
        if (inFlight >= settings.maxInFlight) {
          skipped += 1;
          continue;
        }
        const outcome = outcomeOf(i);
        const customerId = customerOf(stack.runId, i);
        const product = products[i % products.length]!;
        inFlight += 1;
        running.push(
          (async () => {
            try {
              const ms = await runOrder(stack, api, outcome, customerId, product);
              placements.push({ t: elapsedS(), ms });
              counts[outcome] += 1;
            } catch (error) {
              errors.push(error instanceof Error ? error.message : String(error));
            } finally {
              inFlight -= 1;
            }
          })(),
        );
      }
      await Promise.all(running);
    } finally {
      clearInterval(sampler);
      sample();
      for (const stream of streams) stream.close();
      await Promise.all(sampling);
    }

    const afterWarmup = memory.filter((point) => point.t >= settings.warmupS);
    const mbPer10Min = (perSecondKiB: number) => round((perSecondKiB * 600) / 1024, 2);
    const series = (key: 'apiKiB' | 'workerKiB' | 'temporalKiB' | 'cached') =>
      afterWarmup.map((point) => ({ t: point.t, y: point[key] }));
    const rawSlope = (key: 'apiKiB' | 'workerKiB' | 'temporalKiB') => mbPer10Min(slopePerSecond(series(key)));
    const floorSlope = (key: 'apiKiB' | 'workerKiB' | 'temporalKiB') =>
      mbPer10Min(slopePerSecond(windowFloors(series(key), settings.floorWindowS)));
    const apiSlope = floorSlope('apiKiB');
    const workerSlope = floorSlope('workerKiB');
    const everySample = { api: rawSlope('apiKiB'), worker: rawSlope('workerKiB') };
    const slope = round(Math.max(apiSlope, workerSlope), 2);
    const secondHalf = (key: 'apiKiB' | 'workerKiB') =>
      mbPer10Min(
        secondHalfFloorSlope(
          memory.map((point) => ({ t: point.t, y: point[key] })),
          settings.runS,
          settings.floorWindowS,
        ),
      );
    const secondHalfSlopes = { api: secondHalf('apiKiB'), worker: secondHalf('workerKiB') };
    const secondHalfSlope = round(Math.max(secondHalfSlopes.api, secondHalfSlopes.worker), 2);
    const cachedPer10Min = round(slopePerSecond(series('cached')) * 600, 1);
    const heap = {
      api: heapSlopes(readMemoryProbe(stack.memoryDir, pids.api), begunAt, settings),
      worker: heapSlopes(readMemoryProbe(stack.memoryDir, pids.worker), begunAt, settings),
    };
    const measured = placements.filter((placement) => placement.t >= settings.warmupS);
    const span = (settings.runS - settings.warmupS) / 3;
    const third = (which: 0 | 2) =>
      measured
        .filter((p) => p.t >= settings.warmupS + which * span && p.t < settings.warmupS + (which + 1) * span)
        .map((p) => p.ms);
    const firstP99 = round(percentile(third(0), 99), 1);
    const lastP99 = round(percentile(third(2), 99), 1);
    const drift = round(lastP99 / firstP99, 2);
    // The larger of the two that could be measured (a process with too few full collections has none).
    const measuredHeapSlopes = [heap.api.liveHeap, heap.worker.liveHeap].filter(Number.isFinite);
    const heapSlope = measuredHeapSlopes.length === 0 ? Number.NaN : round(Math.max(...measuredHeapSlopes), 2);
    const long = !context.quick && settings.runS >= LONG_SOAK_S;
    const rssMiB = (kib: number) => round(kib / 1024, 1);
    return {
      ...(settings.runS === STANDARD_SOAK_S || context.quick ? {} : { variant: String(settings.runS) }),
      ...(long ? { variantInSummary: true } : {}),
      summary:
        `${settings.runS}s at ${ratePerS.toFixed(2)} orders/s (${round(settings.loadShare * 100, 0)} % of ${capacityPerS.toFixed(2)}/s): ` +
        `RSS floor slope after ${settings.warmupS}s API ${apiSlope} / worker ${workerSlope} MB per 10 min, ` +
        `over the second half API ${secondHalfSlopes.api} / worker ${secondHalfSlopes.worker} ` +
        `(every sample: API ${everySample.api} / worker ${everySample.worker}; ` +
        `API ${rssMiB(afterWarmup[0]?.apiKiB ?? Number.NaN)} → ${rssMiB(memory.at(-1)?.apiKiB ?? Number.NaN)} MiB, worker ${rssMiB(afterWarmup[0]?.workerKiB ?? Number.NaN)} → ${rssMiB(memory.at(-1)?.workerKiB ?? Number.NaN)} MiB, ` +
        `cached workflows ${afterWarmup[0]?.cached ?? Number.NaN} → ${memory.at(-1)?.cached ?? Number.NaN}` +
        `${tuning.maxCachedWorkflows === undefined ? '' : ` of at most ${tuning.maxCachedWorkflows}`}); ` +
        `heap left by full collections API ${heap.api.liveHeap} / worker ${heap.worker.liveHeap} MB per 10 min ` +
        `(${heap.api.fullCollections} / ${heap.worker.fullCollections} collections; larger ${heapSlope}), V8's heap committed ` +
        `API ${heap.api.heapCommitted} / worker ${heap.worker.heapCommitted}, outside V8's heap ` +
        `API ${heap.api.outsideHeap} / worker ${heap.worker.outsideHeap}; ` +
        `${errors.length} errors, ${skipped} skipped; placement p99 first third ${firstP99} ms, last ${lastP99} ms (drift ${drift}); ${streamEvents} stream events` +
        (context.quick ? ' (quick: too short for a slope)' : ''),
      headline: long
        ? { soak_heap_slope_mb_per_10min: heapSlope, soak_rss_second_half_slope_mb_per_10min: secondHalfSlope }
        : { soak_rss_slope_mb_per_10min: slope },
      data: {
        settings,
        capacityPerS: round(capacityPerS, 2),
        capacitySource: capacity.source,
        calibrationErrors: capacity.errors,
        ratePerS: round(ratePerS, 2),
        counts,
        errors: errors.length,
        firstErrors: [...new Set(errors)].slice(0, 3),
        skipped,
        streamEvents,
        maxCachedWorkflows: tuning.maxCachedWorkflows ?? 'SDK default',
        rssSlopeMbPer10Min: { api: apiSlope, worker: workerSlope, max: slope },
        secondHalfRssSlopeMbPer10Min: { ...secondHalfSlopes, max: secondHalfSlope },
        liveHeapSlopeMbPer10Min: { api: heap.api.liveHeap, worker: heap.worker.liveHeap, max: heapSlope },
        everySampleSlopeMbPer10Min: everySample,
        temporalRssSlopeMbPer10Min: { floor: floorSlope('temporalKiB'), everySample: rawSlope('temporalKiB') },
        cachedWorkflowsPer10Min: cachedPer10Min,
        heapSlopesMbPer10Min: heap,
        placementMs: {
          all: distribution(measured.map((p) => p.ms)),
          firstThirdP99: firstP99,
          lastThirdP99: lastP99,
          drift,
        },
        memory,
        definitions: {
          rssSlope: `least-squares slope, in MB per 10 minutes, through the lowest resident-memory sample of each ${settings.floorWindowS} s window after the warm-up (the floor V8's collections leave), of the API process and of the worker process; the headline is the larger`,
          secondHalfRssSlope: `the same resident floor slope through the windows of the run's second half only (from ${settings.runS / 2} s): whether resident memory has levelled off`,
          everySampleSlope: 'the same slope through every sample after the warm-up, the collections’ sawtooth included',
          liveHeap:
            'the same floor slope through V8’s heap in use right after each full collection (what survived it: what a JavaScript leak raises)',
          heapCommitted: 'the floor slope of the heap V8 has committed (heapTotal), used or not',
          outsideHeap:
            'the floor slope of resident memory less V8’s committed heap: native allocations (the Temporal core, sockets, buffers) and code',
          cached: 'workflows in the worker’s sticky cache (temporal_sticky_cache_size, summed over its queues)',
          drift: 'placement p99 in the last third of the run after the warm-up ÷ in the first third',
          skipped: 'orders not started because maxInFlight were still running: the system fell behind the rate',
        },
      },
    };
  },
};
