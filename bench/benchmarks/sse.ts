/**
 * Notification fan-out: 500 clients hold GET /v1/notifications/stream open on one API process,
 * one user each. Each user stands at 90 of the free plan's 100 builds; then, at a steady rate,
 * each user's POST /v1/usage of 10 builds crosses the limit, and the clock runs until that
 * user's stream delivers the `quota.exceeded` notification. The path: the API records the use
 * and signals the user's notification workflow; the worker persists the notification; its
 * NOTIFY reaches the API's hub, which pushes it to the one open stream. Also the API
 * process's resident memory per open stream.
 */
import { performance } from 'node:perf_hooks';
import type { Benchmark, BenchContext } from '../lib/context';
import { callJson } from '../lib/http';
import { residentKiB } from '../lib/machine';
import { openSse, type SseStream } from '../lib/sse';
import { distribution, round } from '../lib/stats';
import { BENCH_TUNING } from '../lib/tuning-choices';

async function inBatches<T>(
  items: readonly T[],
  size: number,
  work: (item: T, index: number) => Promise<void>,
): Promise<void> {
  for (let start = 0; start < items.length; start += size) {
    await Promise.all(items.slice(start, start + size).map((item, offset) => work(item, start + offset)));
  }
}

export interface SseSettings {
  /** Streams held open, one user each. */
  clients: number;
  /** How many of those users cross their limit (the first ones; all of them by default). */
  crossings?: number;
  crossingsPerSecond: number;
  timeoutMs: number;
}

export interface SseMeasurement {
  latency: ReturnType<typeof distribution>;
  perConnectionKiB: number;
  summary: string;
  data: Record<string, unknown>;
}

export const sseBenchmark: Benchmark = {
  name: 'sse',
  title:
    '500 SSE clients: latency from POST /v1/usage crossing a limit to the event on the stream; memory per connection',
  async run(context) {
    const settings = context.quick
      ? { clients: 30, crossingsPerSecond: 10, timeoutMs: 60_000 }
      : { clients: 500, crossingsPerSecond: 10, timeoutMs: 120_000 };
    const measured = await measureSse(context, settings);
    return { summary: measured.summary, headline: { sse_p99_ms: measured.latency.p99 }, data: measured.data };
  },
};

let measurements = 0;

/** Opens the streams, crosses the users' limits at a steady rate and times each event's arrival on its stream. */
export async function measureSse(context: BenchContext, settings: SseSettings): Promise<SseMeasurement> {
  const { stack } = context;
  await stack.ensureWorker(BENCH_TUNING);
  const api = await stack.startApi();
  // New users for every measurement of a run: one whose limit is crossed already would send no event.
  measurements += 1;
  const users = Array.from({ length: settings.clients }, (_, i) => `sse-${stack.runId}-${measurements}-${i}`);
  const crossing = users.slice(0, settings.crossings ?? users.length);

  // 90 of 100 builds used (the 80 % warning already behind them), so the next 10 cross the limit.
  await inBatches(crossing, 16, async (userId) => {
    await stack.services.quota.recordUsage({
      userId,
      resource: 'builds',
      quantity: 90,
      idempotencyKey: 'bench-prefill',
    });
  });

  // A few streams first: the hub's LISTEN connection, the SSE plugin's code and the JIT are
  // paid for once, not by the streams whose memory is measured.
  const warm = Array.from({ length: 10 }, (_, i) =>
    openSse(`${api.baseUrl}/v1/notifications/stream?access_token=${encodeURIComponent(api.token(`sse-warm-${i}`))}`),
  );
  await Promise.all(warm.map((stream) => stream.opened));
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  const pid = stack.pids().api;
  const rssBefore = residentKiB(pid);
  const streams = new Map<string, SseStream>();
  const arrivals = new Map<string, (at: number) => void>();
  const openedAt = performance.now();
  await inBatches(users, 50, async (userId) => {
    const stream = openSse(
      `${api.baseUrl}/v1/notifications/stream?access_token=${encodeURIComponent(api.token(userId))}`,
    );
    stream.onEvent((event) => {
      if (event.event !== 'notification') return;
      const notification = JSON.parse(event.data) as { type?: string };
      if (notification.type === 'quota.exceeded') arrivals.get(userId)?.(event.at);
    });
    streams.set(userId, stream);
    await stream.opened;
  });
  const connectS = (performance.now() - openedAt) / 1000;
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  const rssOpen = residentKiB(pid);
  context.log(
    `  ${streams.size} streams open in ${connectS.toFixed(1)}s; API RSS ${(rssBefore / 1024).toFixed(0)} → ${(rssOpen / 1024).toFixed(0)} MiB`,
  );

  const latencies: number[] = [];
  const postMs: number[] = [];
  const failures: string[] = [];
  const begun = performance.now();
  await Promise.all(
    crossing.map(async (userId, i) => {
      // A steady rate: user i crosses its limit at i / rate seconds.
      const due = begun + (i * 1000) / settings.crossingsPerSecond;
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - performance.now())));
      const sentAt = performance.now();
      const arrived = new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no quota.exceeded event in time')), settings.timeoutMs);
        arrivals.set(userId, (at) => {
          clearTimeout(timer);
          resolve(at);
        });
      });
      arrived.catch(() => undefined);
      try {
        const response = await callJson<{ used?: number }>(`${api.baseUrl}/v1/usage`, {
          method: 'POST',
          token: api.token(userId),
          body: { resource: 'builds', quantity: 10, idempotencyKey: 'bench-cross' },
        });
        postMs.push(response.ms);
        if (response.status !== 200)
          throw new Error(`POST /v1/usage answered ${response.status} ${JSON.stringify(response.body).slice(0, 160)}`);
        latencies.push((await arrived) - sentAt);
      } catch (error) {
        failures.push(error instanceof Error ? error.message : String(error));
      }
    }),
  );
  for (const stream of [...streams.values(), ...warm]) stream.close();
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  const rssClosed = residentKiB(pid);

  const latency = distribution(latencies);
  const perConnectionKiB = round((rssOpen - rssBefore) / settings.clients, 1);
  return {
    latency,
    perConnectionKiB,
    summary:
      `${latencies.length}/${crossing.length} crossing users of ${settings.clients} streams got their quota.exceeded: p50 ${latency.p50} ms, p99 ${latency.p99} ms, max ${latency.max} ms ` +
      `after POST /v1/usage (${settings.crossingsPerSecond}/s); ~${perConnectionKiB} KiB RSS per open stream` +
      (failures.length > 0 ? `; ${failures.length} failed` : ''),
    data: {
      settings,
      delivered: latencies.length,
      failures: failures.length,
      firstFailures: [...new Set(failures)].slice(0, 3),
      latencyMs: latency,
      postUsageMs: distribution(postMs),
      connectS: round(connectS, 1),
      memory: { rssBeforeKiB: rssBefore, rssWithStreamsKiB: rssOpen, rssAfterCloseKiB: rssClosed, perConnectionKiB },
      definition:
        "latency: from sending POST /v1/usage (crossing the 100-build limit) to the quota.exceeded event parsed from that user's open stream",
    },
  };
}
