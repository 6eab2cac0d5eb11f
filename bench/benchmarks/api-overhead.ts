/**
 * API overhead: requests per second of GET /v1/products on the storefront API process (auth,
 * rate-limit and helmet hooks, metrics, a PostgreSQL query, response schema) against a bare
 * Fastify route answering the same bytes from memory, with autocannon, in alternating rounds.
 * It runs first in a run, so the catalogue is the 8 demo products of `npm run db:seed`.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, waitForHttp } from '../../harness/waits';
import { seedDemoData } from '../../scripts/seed';
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
    const settings = context.quick ? { rounds: 1, durationS: 3, connections: 16 } : { rounds: 5, durationS: 10, connections: 16 };
    await seedDemoData({ inventory: stack.databases.inventory, quota: stack.databases.quota });
    const api = await stack.startApi();
    const token = api.token('bench-reader');
    const catalogue = await callJson<{ items: unknown[] }>(`${api.baseUrl}/v1/products`, { token });
    if (catalogue.status !== 200) throw new Error(`GET /v1/products answered ${catalogue.status}`);

    const dir = mkdtempSync(path.join(os.tmpdir(), 'storefront-bench-bare-'));
    const bodyFile = path.join(dir, 'products.json');
    writeFileSync(bodyFile, JSON.stringify(catalogue.body));
    const [port, cachedPort] = await Promise.all([freePort(), freePort()]);
    const bare = stack.startProcess({
      name: 'bare-fastify',
      command: process.execPath,
      args: ['--import', 'tsx', path.join(ROOT, 'bench', 'bare-server.ts')],
      cwd: ROOT,
      env: { ...process.env, PORT: String(port), BARE_BODY_FILE: bodyFile },
      output: 'ignore',
    });
    const cached = stack.startProcess({
      name: 'api-cached-catalogue',
      command: process.execPath,
      args: ['--import', 'tsx', path.join(ROOT, 'bench', 'api-cached-server.ts')],
      cwd: ROOT,
      env: { ...stack.env(), PORT: String(cachedPort), JWT_SECRET: BENCH_JWT_SECRET, LOG_LEVEL: 'warn' },
      output: 'ignore',
    });
    const bareUrl = `http://127.0.0.1:${port}/v1/products`;
    const cachedUrl = `http://127.0.0.1:${cachedPort}/v1/products`;
    try {
      await waitForHttp(bareUrl, 'the bare Fastify server', { process: bare, timeoutMs: 30_000 });
      await waitForHttp(`http://127.0.0.1:${cachedPort}/healthz`, 'the cached-catalogue API', { process: cached, timeoutMs: 60_000 });
      const targets = {
        api: { url: `${api.baseUrl}/v1/products`, headers: { authorization: `Bearer ${token}` } },
        cached: { url: cachedUrl, headers: { authorization: `Bearer ${token}` } },
        bare: { url: bareUrl, headers: {} },
      };
      // Warm both (JIT, connection pool).
      for (const target of Object.values(targets)) await load({ ...target, connections: settings.connections, durationS: 2 });

      type Target = keyof typeof targets;
      const names: Target[] = ['api', 'cached', 'bare'];
      const rounds: Array<{ round: number; target: Target } & LoadResult> = [];
      for (let r = 0; r < settings.rounds; r++) {
        // Each round starts with another target, so none always runs first (or last).
        const order = names.map((_, i) => names[(i + r) % names.length]!);
        for (const target of order) {
          const result = await load({ ...targets[target], connections: settings.connections, durationS: settings.durationS });
          rounds.push({ round: r, target, ...result });
          context.log(`  round ${r} ${target.padEnd(6)} ${result.requestsPerSecond} req/s, p99 ${result.latencyMs.p99} ms, ${result.non2xx} non-2xx, ${result.errors} errors`);
        }
      }
      const pairRatios = Array.from({ length: settings.rounds }, (_, r) => {
        const apiRound = rounds.find((x) => x.round === r && x.target === 'api')!;
        const bareRound = rounds.find((x) => x.round === r && x.target === 'bare')!;
        return round(apiRound.requestsPerSecond / bareRound.requestsPerSecond, 3);
      });
      const rps = (target: Target) => median(rounds.filter((x) => x.target === target).map((x) => x.requestsPerSecond));
      const apiRps = rps('api');
      const cachedRps = rps('cached');
      const bareRps = rps('bare');
      const cachedPairRatios = Array.from({ length: settings.rounds }, (_, r) => {
        const cachedRound = rounds.find((x) => x.round === r && x.target === 'cached')!;
        const bareRound = rounds.find((x) => x.round === r && x.target === 'bare')!;
        return round(cachedRound.requestsPerSecond / bareRound.requestsPerSecond, 3);
      });
      const ratio = round(median(pairRatios), 3);
      const bodyBytes = Buffer.byteLength(JSON.stringify(catalogue.body));
      return {
        summary:
          `API ${apiRps} req/s vs bare Fastify ${bareRps} req/s: ratio ${ratio} (pairs ${pairRatios.join(', ')}); ` +
          `the same app with the catalogue in memory ${cachedRps} req/s (ratio ${round(median(cachedPairRatios), 3)}); ${catalogue.body.items.length} products, ${bodyBytes} B body`,
        headline: { api_overhead_ratio: ratio },
        data: {
          settings,
          products: catalogue.body.items.length,
          bodyBytes,
          apiRps,
          cachedCatalogueRps: cachedRps,
          bareRps,
          ratio,
          pairRatios,
          cachedCatalogueRatio: round(median(cachedPairRatios), 3),
          cachedPairRatios,
          rounds,
          definitions: {
            ratio: 'API req/s / bare Fastify req/s (1.0 = no overhead)',
            cached: 'the real app (buildApp: auth, helmet, metrics, schemas) with listProducts answered from memory: the framework share of the overhead',
          },
        },
      };
    } finally {
      await Promise.all([stack.stopProcess(bare), stack.stopProcess(cached)]);
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
