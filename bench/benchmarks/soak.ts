/**
 * Soak: a steady mix at about 60 % of the capacity measured just before it — orders placed and
 * paid, placed and cancelled through the API, placed and left to expire, with live notification
 * streams open throughout — for 20 minutes, the API's and the worker's resident memory sampled
 * all along. After the warm-up: each process's RSS slope (least squares, MB per 10 minutes), the
 * errors, and how the placement p99 drifts from the first third of the run to the last.
 * `--quick` is the same shape in one minute: a smoke check of the harness, too short for a slope.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { checkoutInput, closedLoop, createBenchProducts, place } from '../lib/checkout-driver';
import type { Benchmark } from '../lib/context';
import { callJson } from '../lib/http';
import { residentKiB } from '../lib/machine';
import { openSse, type SseStream } from '../lib/sse';
import type { BenchApi } from '../lib/stack';
import { distribution, percentile, round } from '../lib/stats';
import { BENCH_TUNING } from '../lib/tuning-choices';
import type { ProductView } from '../../services/inventory/inventory.service';

type Outcome = 'paid' | 'cancelled' | 'expiring';

/** Seven in ten orders are paid, two cancelled, one left to expire (a short time-to-live, set through the client). */
const outcomeOf = (i: number): Outcome => (i % 10 < 7 ? 'paid' : i % 10 < 9 ? 'cancelled' : 'expiring');
const EXPIRING_TTL_S = 5;

/** A customer places at most ten orders: the free plan allows 20 a month. */
const customerOf = (runId: string, i: number) => `soak-${runId}-${Math.floor(i / 10)}`;

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

/** Least-squares slope of y over t (seconds), per second. */
function slopePerSecond(points: ReadonlyArray<{ t: number; y: number }>): number {
  const usable = points.filter((point) => Number.isFinite(point.y));
  if (usable.length < 2) return Number.NaN;
  const meanT = usable.reduce((sum, point) => sum + point.t, 0) / usable.length;
  const meanY = usable.reduce((sum, point) => sum + point.y, 0) / usable.length;
  const numerator = usable.reduce((sum, point) => sum + (point.t - meanT) * (point.y - meanY), 0);
  const denominator = usable.reduce((sum, point) => sum + (point.t - meanT) ** 2, 0);
  return denominator === 0 ? Number.NaN : numerator / denominator;
}

export const soakBenchmark: Benchmark = {
  name: 'soak',
  title:
    '20 minutes at about 60 % of capacity (pay, cancel, expire, streams): RSS slope of the API and the worker, errors, p99 drift',
  async run(context) {
    const { stack } = context;
    const settings = context.quick
      ? {
          calibrateS: 10,
          calibrationConcurrency: 4,
          runS: 60,
          warmupS: 15,
          sampleEveryS: 2,
          streams: 5,
          loadShare: 0.6,
          maxInFlight: 32,
        }
      : {
          calibrateS: 30,
          calibrationConcurrency: 8,
          runS: 1_200,
          warmupS: 180,
          sampleEveryS: 10,
          streams: 50,
          loadShare: 0.6,
          maxInFlight: 64,
        };
    await stack.ensureWorker(BENCH_TUNING);
    const api = await stack.startApi();
    const products = await createBenchProducts(stack.services.inventory, `soak-${stack.runId}`, 8);

    // Capacity: checkouts (place and pay through the API) per second a closed loop sustains right now.
    const calibration = await closedLoop(
      settings.calibrationConcurrency,
      settings.calibrateS * 1000,
      async (loop, iteration) => {
        const customerId = `soak-cal-${stack.runId}-${loop}-${Math.floor(iteration / 10)}`;
        const placed = await placeViaApi(api, customerId, products[iteration % products.length]!);
        await settle(api, customerId, placed.id, 'paid');
      },
    );
    const capacityPerS = calibration.results.length / calibration.elapsedS;
    const ratePerS = Math.max(0.2, capacityPerS * settings.loadShare);
    context.log(
      `  capacity ${capacityPerS.toFixed(2)} checkouts/s (${calibration.errors.length} errors); soaking at ${ratePerS.toFixed(2)}/s for ${settings.runS}s`,
    );

    // Streams for the first customers, open from start to end: their order status events flow through them.
    const streams: SseStream[] = [];
    let streamEvents = 0;
    for (let k = 0; k < settings.streams; k++) {
      const stream = openSse(
        `${api.baseUrl}/v1/notifications/stream?access_token=${encodeURIComponent(api.token(customerOf(stack.runId, k * 10)))}`,
      );
      stream.onEvent((event) => {
        if (event.event === 'order' || event.event === 'notification') streamEvents += 1;
      });
      streams.push(stream);
    }
    await Promise.all(streams.map((stream) => stream.opened));

    const pids = stack.pids();
    const begun = performance.now();
    const elapsedS = () => (performance.now() - begun) / 1000;
    const memory: Array<{ t: number; apiKiB: number; workerKiB: number }> = [];
    const sample = () =>
      memory.push({ t: round(elapsedS(), 1), apiKiB: residentKiB(pids.api), workerKiB: residentKiB(pids.worker) });
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
              if (outcome === 'expiring') {
                const started = performance.now();
                const state = await place(stack.client, 'saga', checkoutInput(customerId, product, EXPIRING_TTL_S));
                if (state.status !== 'AWAITING_PAYMENT') throw new Error(`placement ended ${state.status}`);
                placements.push({ t: elapsedS(), ms: performance.now() - started });
              } else {
                const placed = await placeViaApi(api, customerId, product);
                placements.push({ t: elapsedS(), ms: placed.ms });
                await settle(api, customerId, placed.id, outcome);
              }
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
    }

    const afterWarmup = memory.filter((point) => point.t >= settings.warmupS);
    const mbPer10Min = (perSecondKiB: number) => round((perSecondKiB * 600) / 1024, 2);
    const apiSlope = mbPer10Min(slopePerSecond(afterWarmup.map((point) => ({ t: point.t, y: point.apiKiB }))));
    const workerSlope = mbPer10Min(slopePerSecond(afterWarmup.map((point) => ({ t: point.t, y: point.workerKiB }))));
    const slope = round(Math.max(apiSlope, workerSlope), 2);
    const measured = placements.filter((placement) => placement.t >= settings.warmupS);
    const span = (settings.runS - settings.warmupS) / 3;
    const third = (which: 0 | 2) =>
      measured
        .filter((p) => p.t >= settings.warmupS + which * span && p.t < settings.warmupS + (which + 1) * span)
        .map((p) => p.ms);
    const firstP99 = round(percentile(third(0), 99), 1);
    const lastP99 = round(percentile(third(2), 99), 1);
    const drift = round(lastP99 / firstP99, 2);
    const rssMiB = (kib: number) => round(kib / 1024, 1);
    return {
      summary:
        `${settings.runS}s at ${ratePerS.toFixed(2)} orders/s (${round(settings.loadShare * 100, 0)} % of ${capacityPerS.toFixed(2)}/s): ` +
        `RSS slope after ${settings.warmupS}s API ${apiSlope} / worker ${workerSlope} MB per 10 min ` +
        `(API ${rssMiB(afterWarmup[0]?.apiKiB ?? Number.NaN)} → ${rssMiB(memory.at(-1)?.apiKiB ?? Number.NaN)} MiB, worker ${rssMiB(afterWarmup[0]?.workerKiB ?? Number.NaN)} → ${rssMiB(memory.at(-1)?.workerKiB ?? Number.NaN)} MiB); ` +
        `${errors.length} errors, ${skipped} skipped; placement p99 first third ${firstP99} ms, last ${lastP99} ms (drift ${drift}); ${streamEvents} stream events` +
        (context.quick ? ' (quick: too short for a slope)' : ''),
      headline: { soak_rss_slope_mb_per_10min: slope },
      data: {
        settings,
        capacityPerS: round(capacityPerS, 2),
        calibrationErrors: calibration.errors.length,
        ratePerS: round(ratePerS, 2),
        counts,
        errors: errors.length,
        firstErrors: [...new Set(errors)].slice(0, 3),
        skipped,
        streamEvents,
        rssSlopeMbPer10Min: { api: apiSlope, worker: workerSlope, max: slope },
        placementMs: {
          all: distribution(measured.map((p) => p.ms)),
          firstThirdP99: firstP99,
          lastThirdP99: lastP99,
          drift,
        },
        memory,
        definitions: {
          rssSlope:
            'least-squares slope of the resident memory of the API process and of the worker process, samples after the warm-up, in MB per 10 minutes; the headline is the larger',
          drift: 'placement p99 in the last third of the run after the warm-up ÷ in the first third',
          skipped: 'orders not started because maxInFlight were still running: the system fell behind the rate',
        },
      },
    };
  },
};
