/**
 * The API overhead benchmark's yardstick: a bare Fastify app with one route, GET /v1/products,
 * answering with the same JSON body the storefront API answers with (read from the file named
 * by BARE_BODY_FILE) — no auth, no database, no schemas, no plugins.
 */
import Fastify from 'fastify';
import { readFileSync } from 'node:fs';
import { commandLineOrExit } from '../lib/command-line';

async function main(): Promise<void> {
  commandLineOrExit(
    "bench/bare-server.ts: the API overhead benchmark's bare Fastify app (BARE_BODY_FILE, PORT).",
    {},
    () => undefined,
  );
  const body = readFileSync(process.env.BARE_BODY_FILE ?? '', 'utf8');
  const app = Fastify({ logger: false });
  app.get('/v1/products', async (_request, reply) =>
    reply.header('content-type', 'application/json; charset=utf-8').send(body),
  );
  await app.listen({ port: Number(process.env.PORT), host: '127.0.0.1' });
  console.log(`bare fastify listening on ${process.env.PORT}`);
  for (const signal of ['SIGINT', 'SIGTERM'] as const)
    process.on(signal, () => void app.close().then(() => process.exit(0)));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
