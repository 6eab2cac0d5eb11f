/**
 * The latency-throughput curve: checkouts through the API at fixed offered rates (1, 2, 4, 6, 8,
 * … a second), each for a fixed window, in an open loop (bench/lib/open-loop.ts): arrivals are
 * due at fixed times whatever the system answers, and the placement's latency counts from the
 * arrival's due time, so a queue in front of the API is charged too. Each checkout is the
 * storefront's: POST /v1/orders until its 201 AWAITING_PAYMENT, then POST /v1/orders/:id/payment
 * until its 200. Rates rise until the placement p99 passes 2 s (or the cap); the highest rate
 * whose placement p99 stays under 500 ms with no error is `sustainable_checkouts_per_s`.
 */
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { createBenchProducts } from '../lib/checkout-driver';
import type { BenchContext, Benchmark } from '../lib/context';
import { cpuBetween, processTree, sampleCpu, type CpuGroups } from '../lib/cpu';
import { curveCaption, curveChart, SUSTAINABLE_LINE_MS } from '../lib/curve-chart';
import { callJson } from '../lib/http';
import { openLoop, type Arrival } from '../lib/open-loop';
import type { BenchApi } from '../lib/stack';
import { distribution, percentile, round } from '../lib/stats';
import { BENCH_TUNING } from '../lib/tuning-choices';
import { cpuGroups } from './throughput';
import type { ProductView } from '../../services/inventory/inventory.service';

/** Past this placement p99 a rate is overloaded: the curve stops climbing. */
const OVERLOADED_P99_MS = 2_000;
/** A customer places at most ten orders: the free plan allows 20 a month. */
const ORDERS_PER_CUSTOMER = 10;

interface Settings {
  rates: number[];
  windowS: number;
  warmup: { ratePerSecond: number; seconds: number };
  /** Checkouts in flight at most; an arrival beyond them is shed (an error). */
  maxInFlight: number;
  /** Each request's own limit; a request that reaches it is an error. */
  requestTimeoutMs: number;
}

const QUICK: Settings = {
  rates: [1, 2, 4],
  windowS: 8,
  warmup: { ratePerSecond: 1, seconds: 3 },
  maxInFlight: 48,
  requestTimeoutMs: 10_000,
};
const FULL: Settings = {
  rates: [1, 2, 4, 6, 8, 10, 12, 14, 16, 20, 24],
  windowS: 60,
  warmup: { ratePerSecond: 2, seconds: 15 },
  maxInFlight: 96,
  requestTimeoutMs: 15_000,
};

interface Checkout {
  /** From the arrival's due time to the 201. */
  placeMs: number;
  /** From the 201 to the payment's 200. */
  payMs: number;
  doneAt: number;
}

/** One open-loop checkout: latency from the arrival's due time, each request bounded by `timeoutMs`. */
async function checkoutAt(
  api: BenchApi,
  arrival: Arrival,
  customerId: string,
  product: ProductView,
  timeoutMs: number,
): Promise<Checkout> {
  const token = api.token(customerId);
  const placed = await callJson<{ id: string; status: string }>(`${api.baseUrl}/v1/orders`, {
    method: 'POST',
    token,
    headers: { 'idempotency-key': randomUUID() },
    body: { items: [{ productId: product.id, quantity: 1 }] },
    timeoutMs,
  });
  const placedAt = performance.now();
  if (placed.status !== 201 || placed.body.status !== 'AWAITING_PAYMENT')
    throw new Error(`POST /v1/orders answered ${placed.status} ${JSON.stringify(placed.body).slice(0, 160)}`);
  const paid = await callJson<{ status: string }>(`${api.baseUrl}/v1/orders/${placed.body.id}/payment`, {
    method: 'POST',
    token,
    body: { paymentMethod: 'pm_card_visa' },
    timeoutMs,
  });
  const doneAt = performance.now();
  // The payment answers once the money is settled (PAID); COMPLETED follows without the customer.
  if (paid.status !== 200 || (paid.body.status !== 'PAID' && paid.body.status !== 'COMPLETED'))
    throw new Error(`POST /v1/orders/:id/payment answered ${paid.status} ${JSON.stringify(paid.body).slice(0, 160)}`);
  return { placeMs: placedAt - arrival.scheduledAt, payMs: doneAt - placedAt, doneAt };
}

export interface RateResult {
  offeredPerS: number;
  arrivals: number;
  completed: number;
  /** Completions per second between the first and the last completion. */
  achievedPerS: number;
  placeMs: ReturnType<typeof distribution>;
  payMs: ReturnType<typeof distribution>;
  /** Failed, timed-out and shed checkouts. */
  errors: number;
  shed: number;
  /** Placements answered after 2 s, plus every error. */
  overTwoSeconds: number;
  firstErrors: string[];
  /** How late the driver itself started arrivals, p99 (its own lag, not the system's). */
  driverLagP99Ms: number;
  /** CPU ms per completed checkout per process group, and how busy the whole machine was (0–1). */
  cpuMsPerCheckout: Record<string, number>;
  machineBusy: number;
}

async function runRate(
  context: BenchContext,
  api: BenchApi,
  products: ProductView[],
  settings: Settings,
  ratePerSecond: number,
  seconds: number,
  label: string,
): Promise<RateResult> {
  const arrivals = Math.round(ratePerSecond * seconds);
  // Consecutive arrivals go to different customers, so no customer's orders queue on each other's quota.
  const customers = Math.ceil(arrivals / ORDERS_PER_CUSTOMER);
  const groups: CpuGroups = { ...cpuGroups(context.stack), api: processTree(context.stack.pids().api) };
  const before = sampleCpu(groups);
  const loop = await openLoop(
    { ratePerSecond, durationMs: seconds * 1000, maxInFlight: settings.maxInFlight },
    (arrival) =>
      checkoutAt(
        api,
        arrival,
        `curve-${context.stack.runId}-${label}-${arrival.index % customers}`,
        products[arrival.index % products.length]!,
        settings.requestTimeoutMs,
      ),
  );
  const cpu = cpuBetween(before, sampleCpu(groups));
  const done = loop.results.map((result) => result.doneAt).sort((a, b) => a - b);
  const achievedPerS =
    done.length > 1 ? round((done.length - 1) / ((done.at(-1)! - done[0]!) / 1000), 2) : done.length / seconds;
  const errors = loop.errors.length + loop.shed;
  const placeMs = distribution(loop.results.map((result) => result.placeMs));
  return {
    offeredPerS: ratePerSecond,
    arrivals,
    completed: loop.results.length,
    achievedPerS,
    placeMs,
    payMs: distribution(loop.results.map((result) => result.payMs)),
    errors,
    shed: loop.shed,
    overTwoSeconds: loop.results.filter((result) => result.placeMs > OVERLOADED_P99_MS).length + errors,
    firstErrors: [...new Set(loop.errors)].slice(0, 3),
    driverLagP99Ms: round(percentile(loop.startLagMs, 99), 1),
    cpuMsPerCheckout: Object.fromEntries(
      Object.entries(cpu.seconds).map(([name, s]) => [name, round((s * 1000) / Math.max(1, loop.results.length), 1)]),
    ),
    machineBusy: cpu.machineBusy,
  };
}

/** Overloaded: the placement p99 past 2 s, or more than one arrival in twenty failing. */
const overloaded = (result: RateResult) =>
  !(result.placeMs.p99 <= OVERLOADED_P99_MS) || result.errors > result.arrivals / 20;

/** The highest offered rate whose placement p99 is under 500 ms with no error; 0 if none. */
export function sustainableRate(results: readonly RateResult[]): number {
  const ok = results.filter((result) => result.placeMs.p99 < SUSTAINABLE_LINE_MS && result.errors === 0);
  return ok.length === 0 ? 0 : Math.max(...ok.map((result) => result.offeredPerS));
}

export const curveBenchmark: Benchmark = {
  name: 'curve',
  title: 'latency against throughput: open-loop checkouts through the API at rising offered rates',
  async run(context) {
    const settings = context.quick ? QUICK : FULL;
    await context.stack.ensureWorker(BENCH_TUNING);
    const api = await context.stack.startApi();
    const products = await createBenchProducts(context.stack.services.inventory, `curve-${context.stack.runId}`, 16);

    const warmup = await runRate(
      context,
      api,
      products,
      settings,
      settings.warmup.ratePerSecond,
      settings.warmup.seconds,
      'warm',
    );
    context.log(`  warm-up ${warmup.offeredPerS}/s: ${warmup.completed}/${warmup.arrivals} checkouts`);
    const rates: RateResult[] = [];
    for (const rate of settings.rates) {
      const result = await runRate(context, api, products, settings, rate, settings.windowS, String(rate));
      rates.push(result);
      context.log(
        `  ${rate}/s offered, ${result.achievedPerS}/s achieved: placement p50/p99 ${result.placeMs.p50}/${result.placeMs.p99} ms, ` +
          `payment ${result.payMs.p50}/${result.payMs.p99} ms, ${result.errors} errors (${result.shed} shed), ` +
          `machine ${Math.round(result.machineBusy * 100)} % busy, CPU ms per checkout ${JSON.stringify(result.cpuMsPerCheckout)}`,
      );
      if (result.firstErrors.length > 0) context.log(`    errors: ${result.firstErrors.join(' | ')}`);
      if (overloaded(result)) break;
    }
    const sustainable = sustainableRate(rates);
    if (!context.quick) {
      const svg = curveChart(
        rates,
        curveCaption({ at: new Date().toISOString(), quick: false, machine: context.machine }),
      );
      writeFileSync(path.resolve(__dirname, '..', '..', 'docs', 'performance-curve.svg'), svg);
    }
    const row = (result: RateResult) =>
      `${result.offeredPerS}/s → ${result.achievedPerS}/s, placement ${result.placeMs.p50}/${result.placeMs.p99} ms, payment ${result.payMs.p50}/${result.payMs.p99} ms, ${result.errors} errors`;
    return {
      summary: `sustainable_checkouts_per_s ${sustainable} (placement p99 < ${SUSTAINABLE_LINE_MS} ms, no errors); ${rates.map(row).join('; ')}`,
      headline: { sustainable_checkouts_per_s: sustainable },
      data: {
        settings,
        sustainableCheckoutsPerS: sustainable,
        rates,
        warmup,
        definitions: {
          placeMs: "from the arrival's due time (open loop) to POST /v1/orders' 201 AWAITING_PAYMENT",
          payMs: "from that 201 to POST /v1/orders/:id/payment's 200 (PAID or COMPLETED)",
          achievedPerS: 'completed checkouts per second between the first and the last completion of the rate',
          errors: `failed requests, requests past ${settings.requestTimeoutMs} ms, and arrivals shed with ${settings.maxInFlight} checkouts in flight`,
          sustainableCheckoutsPerS: `the highest offered rate whose placement p99 < ${SUSTAINABLE_LINE_MS} ms with 0 errors`,
        },
      },
    };
  },
};
