/** Runs the storefront API: builds the app with its real dependencies and listens on HOST:PORT until SIGTERM/SIGINT. */
import closeWithGrace from 'close-with-grace';
import { Connection } from '@temporalio/client';
import { Client as PgClient } from 'pg';
import { LOCAL_POSTGRES_URL, loadSettings, serviceDatabaseUrls, type Settings } from '../lib/config';
import { buildApp, type ReadinessProbe } from './app';

function readinessProbes(settings: Settings, temporal: Connection): ReadinessProbe[] {
  const databases = serviceDatabaseUrls(process.env.DATABASE_URL || LOCAL_POSTGRES_URL);
  return [
    { name: 'temporal', check: async () => void (await temporal.healthService.check({})) },
    ...Object.entries(databases).map(([service, url]) => ({
      name: `database:${service}`,
      check: async () => {
        const client = new PgClient({ connectionString: url, connectionTimeoutMillis: 2_000 });
        try {
          await client.connect();
          await client.query('SELECT 1');
        } finally {
          await client.end().catch(() => undefined);
        }
      },
    })),
  ];
}

async function main(): Promise<void> {
  const settings = loadSettings();
  // Lazy: the API starts (and /healthz answers) even while Temporal is still coming up; /readyz tells.
  const temporal = Connection.lazy({ address: settings.temporalAddress });
  const app = await buildApp({ probes: readinessProbes(settings, temporal), logger: { level: process.env.LOG_LEVEL ?? 'info' } });
  app.addHook('onClose', async () => temporal.close());

  // close-with-grace: one path for SIGTERM/SIGINT and uncaught errors, with a deadline (Fastify's own recommendation).
  closeWithGrace({ delay: 10_000 }, async ({ signal, err }) => {
    if (err) app.log.error({ err }, 'closing after an uncaught error');
    else app.log.info({ signal }, 'closing');
    await app.close();
  });

  await app.listen({ port: settings.port, host: settings.host });
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
