/**
 * API overhead: requests per second of GET /v1/products on the storefront API process (its
 * hooks, helmet, metrics, the catalogue cache's pre-serialized bytes) against a bare Fastify
 * route answering the same bytes from memory, with autocannon, in rotating rounds; beside them
 * the same app without the cache (a database read per request, as before the cache) and the API
 * answering a client that revalidates with If-None-Match (304, no body).
 * It runs first in a run, so the catalogue is the 8 demo products of `npm run db:seed`.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../devstack/ports';
import { waitForHttp } from '../../devstack/waits';
import { seedDemoData } from '../../devstack/seed';
import type { Benchmark } from '../lib/context';
import { callJson } from '../lib/http';
import { load, type LoadResult } from '../lib/load';
import { BENCH_JWT_SECRET } from '../lib/stack';
import { median, round } from '../lib/stats';

const ROOT = path.resolve(__dirname, '..', '..');

export const apiOverheadBenchmark: Benchmark = {
  name: 'api-overhead',
  title: 'GET /v1/products req/s on the API vs a bare Fastify route with the same body (autocannon), alternating',
  async run(context) {
    const { stack } = context;
    const settings = context.quick
      ? { rounds: 1, durationS: 3, connections: 16 }
      : { rounds: 5, durationS: 10, connections: 16 };
    await seedDemoData({ inventory: stack.databases.inventory, quota: stack.databases.quota });
    const api = await stack.startApi();
    const token = api.token('bench-reader');
    const catalogue = await callJson<{ items: unknown[] }>(`${api.baseUrl}/v1/products`, { token });
    if (catalogue.status !== 200) throw new Error(`GET /v1/products answered ${catalogue.status}`);

    const dir = mkdtempSync(path.join(os.tmpdir(), 'storefront-bench-bare-'));
    const bodyFile = path.join(dir, 'products.json');
    writeFileSync(bodyFile, JSON.stringify(catalogue.body));
    const [port, uncachedPort] = await Promise.all([freePort(), freePort()]);
    const bare = stack.startProcess({
      name: 'bare-fastify',
      command: process.execPath,
      args: ['--import', 'tsx', path.join(ROOT, 'bench', 'bare-server.ts')],
      cwd: ROOT,
      env: { ...process.env, PORT: String(port), BARE_BODY_FILE: bodyFile },
      output: 'ignore',
    });
    const uncached = stack.startProcess({
      name: 'api-uncached-catalogue',
      command: process.execPath,
      args: ['--import', 'tsx', path.join(ROOT, 'bench', 'api-uncached-server.ts')],
      cwd: ROOT,
      env: { ...stack.env(), PORT: String(uncachedPort), JWT_SECRET: BENCH_JWT_SECRET, LOG_LEVEL: 'warn' },
      output: 'ignore',
    });
    const bareUrl = `http://127.0.0.1:${port}/v1/products`;
    const uncachedUrl = `http://127.0.0.1:${uncachedPort}/v1/products`;
    try {
      await waitForHttp(bareUrl, 'the bare Fastify server', { process: bare, timeoutMs: 30_000 });
      await waitForHttp(`http://127.0.0.1:${uncachedPort}/healthz`, 'the uncached-catalogue API', {
        process: uncached,
        timeoutMs: 60_000,
      });
      const apiUrl = `${api.baseUrl}/v1/products`;
      const etag = (await fetch(apiUrl)).headers.get('etag');
      if (!etag) throw new Error('GET /v1/products sent no ETag');
      const targets = {
        api: { url: apiUrl, headers: { authorization: `Bearer ${token}` } },
        revalidate: { url: apiUrl, headers: { authorization: `Bearer ${token}`, 'if-none-match': etag } },
        uncached: { url: uncachedUrl, headers: { authorization: `Bearer ${token}` } },
        bare: { url: bareUrl, headers: {} },
      };
      // Warm both (JIT, connection pool).
      for (const target of Object.values(targets))
        await load({ ...target, connections: settings.connections, durationS: 2 });

      type Target = keyof typeof targets;
      const names: Target[] = ['api', 'revalidate', 'uncached', 'bare'];
      const rounds: Array<{ round: number; target: Target } & LoadResult> = [];
      for (let r = 0; r < settings.rounds; r++) {
        // Each round starts with another target, so none always runs first (or last).
        const order = names.map((_, i) => names[(i + r) % names.length]!);
        for (const target of order) {
          const result = await load({
            ...targets[target],
            connections: settings.connections,
            durationS: settings.durationS,
          });
          rounds.push({ round: r, target, ...result });
          // The revalidating client's answers are 304s, which autocannon counts among the non-2xx.
          context.log(
            `  round ${r} ${target.padEnd(10)} ${result.requestsPerSecond} req/s, p99 ${result.latencyMs.p99} ms, ${result.non2xx} non-2xx, ${result.errors} errors`,
          );
        }
      }
      /** Per round, the target's req/s ÷ the bare route's: a pair measured under the same load. */
      const pairRatiosOf = (target: Target) =>
        Array.from({ length: settings.rounds }, (_, r) => {
          const targetRound = rounds.find((x) => x.round === r && x.target === target)!;
          const bareRound = rounds.find((x) => x.round === r && x.target === 'bare')!;
          return round(targetRound.requestsPerSecond / bareRound.requestsPerSecond, 3);
        });
      const rps = (target: Target) => median(rounds.filter((x) => x.target === target).map((x) => x.requestsPerSecond));
      const pairRatios = pairRatiosOf('api');
      const revalidatePairRatios = pairRatiosOf('revalidate');
      const uncachedPairRatios = pairRatiosOf('uncached');
      const apiRps = rps('api');
      const bareRps = rps('bare');
      const ratio = round(median(pairRatios), 3);
      const bodyBytes = Buffer.byteLength(JSON.stringify(catalogue.body));
      return {
        summary:
          `API ${apiRps} req/s vs bare Fastify ${bareRps} req/s: ratio ${ratio} (pairs ${pairRatios.join(', ')}); ` +
          `revalidating (304) ${rps('revalidate')} req/s (ratio ${round(median(revalidatePairRatios), 3)}); ` +
          `without the cache ${rps('uncached')} req/s (ratio ${round(median(uncachedPairRatios), 3)}); ${catalogue.body.items.length} products, ${bodyBytes} B body`,
        headline: { api_overhead_ratio: ratio },
        data: {
          settings,
          products: catalogue.body.items.length,
          bodyBytes,
          apiRps,
          revalidateRps: rps('revalidate'),
          uncachedRps: rps('uncached'),
          bareRps,
          ratio,
          pairRatios,
          revalidateRatio: round(median(revalidatePairRatios), 3),
          revalidatePairRatios,
          uncachedRatio: round(median(uncachedPairRatios), 3),
          uncachedPairRatios,
          rounds,
          definitions: {
            ratio: 'API req/s / bare Fastify req/s (1.0 = no overhead), the API answering from its catalogue cache',
            revalidate: 'the API answering If-None-Match with the current ETag: 304 without a body',
            uncached:
              'the real app (buildApp: auth, helmet, metrics, schemas) without the cache: a database read and a serialization per request, as before the cache',
          },
        },
      };
    } finally {
      await Promise.all([stack.stopProcess(bare), stack.stopProcess(uncached)]);
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
