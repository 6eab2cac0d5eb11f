/** HTTP helpers for the API benchmarks: HS256 tokens as the API's auth plugin expects them, and JSON calls with their latency. */
import { createHmac } from 'node:crypto';
import { performance } from 'node:perf_hooks';

const base64url = (value: string | Buffer) => Buffer.from(value).toString('base64url');

/** An HS256 JWT, as @fastify/jwt signs and verifies them. */
export function signToken(claims: Record<string, unknown>, secret: string, ttlSeconds = 12 * 3600): string {
  const now = Math.floor(Date.now() / 1000);
  const header = base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const payload = base64url(JSON.stringify({ ...claims, iat: now, exp: now + ttlSeconds }));
  const signature = createHmac('sha256', secret).update(`${header}.${payload}`).digest('base64url');
  return `${header}.${payload}.${signature}`;
}

export interface TimedResponse<T> {
  status: number;
  body: T;
  ms: number;
}

export async function callJson<T = Record<string, unknown>>(
  url: string,
  options: {
    method?: string;
    token?: string;
    body?: unknown;
    headers?: Record<string, string>;
    timeoutMs?: number;
  } = {},
): Promise<TimedResponse<T>> {
  const started = performance.now();
  const response = await fetch(url, {
    method: options.method ?? 'GET',
    headers: {
      ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      ...options.headers,
    },
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
    signal: AbortSignal.timeout(options.timeoutMs ?? 60_000),
  });
  const text = await response.text();
  const ms = performance.now() - started;
  let body: T;
  try {
    body = JSON.parse(text) as T;
  } catch {
    body = text as unknown as T;
  }
  return { status: response.status, body, ms };
}
