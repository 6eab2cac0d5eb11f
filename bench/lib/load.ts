/** autocannon (HTTP load) with the few result fields the benchmarks read. */
// autocannon ships no types; this is the part of its programmatic API used here.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const autocannon = require('autocannon') as (options: Record<string, unknown>) => Promise<AutocannonResult>;

interface Stat {
  average: number;
  mean: number;
  p50: number;
  p99: number;
  max: number;
}

interface AutocannonResult {
  requests: Stat & { total: number };
  latency: Stat;
  throughput: Stat;
  errors: number;
  timeouts: number;
  non2xx: number;
  duration: number;
}

export interface LoadResult {
  requestsPerSecond: number;
  requests: number;
  latencyMs: { p50: number; p99: number; max: number; mean: number };
  errors: number;
  non2xx: number;
  bytesPerSecond: number;
}

export async function load(options: {
  url: string;
  connections: number;
  durationS: number;
  headers?: Record<string, string>;
}): Promise<LoadResult> {
  const result = await autocannon({
    url: options.url,
    connections: options.connections,
    duration: options.durationS,
    headers: options.headers ?? {},
  });
  return {
    requestsPerSecond: Number(result.requests.average.toFixed(1)),
    requests: result.requests.total,
    latencyMs: {
      p50: result.latency.p50,
      p99: result.latency.p99,
      max: result.latency.max,
      mean: Number(result.latency.mean.toFixed(2)),
    },
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
    bytesPerSecond: Math.round(result.throughput.average),
  };
}
