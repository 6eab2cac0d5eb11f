/** Runs the storefront API: builds the app with its real dependencies and listens on HOST:PORT until SIGTERM/SIGINT. */
import closeWithGrace from 'close-with-grace';
import type { Connection } from '@temporalio/client';
import { CheckoutClient, TEMPORAL_CHANNEL_ARGS } from '../temporal/checkout-client';
import { databaseUrlsFromEnv, loadSettings } from '../lib/config';
import { apiProductionProblems, refuseUnsafeProduction } from '../lib/production';
import { createClient, lazyClient, temporalSettingsFromEnv } from '../temporal/connection';
import { installTracing } from '../temporal/tracing';
import { codecOriginsFromEnv } from './routes/codec.routes';
import { openServices, type Services } from '../services';
import { NotificationHub } from '../services/notifications/live';
import { startAccountsPurge } from '../services/accounts/purge';
import { accountMail } from '../services/accounts/mail';
import { buildApp, type ReadinessProbe } from './app';
import { CatalogueCache } from './catalogue-cache';
import { databaseProbes, temporalProbe } from './probes';
import { serveMetrics } from './metrics-server';
import { commandLineOrExit } from '../lib/command-line';

function readinessProbes(services: Services, temporal: Connection): ReadinessProbe[] {
  return [temporalProbe(temporal), ...databaseProbes(services)];
}

async function main(): Promise<void> {
  commandLineOrExit(
    'npm run api: the storefront API on HOST:PORT, with the settings of docs/configuration.md (the environment).',
    {},
    () => undefined,
  );
  refuseUnsafeProduction('The API', process.env, apiProductionProblems);
  const settings = loadSettings();
  const temporalSettings = temporalSettingsFromEnv();
  const tracing = installTracing({ serviceName: 'storefront-api' });
  // Lazy: the API starts (and /healthz answers) even while Temporal is still coming up; /readyz tells.
  const temporal = lazyClient(temporalSettings, { channelArgs: TEMPORAL_CHANNEL_ARGS });
  const client = createClient(temporal, temporalSettings, tracing ? { interceptors: tracing.clientInterceptors } : {});
  const databases = databaseUrlsFromEnv();
  const services = openServices(databases, settings);
  // One LISTEN connection per process, open only while this instance has live notification streams.
  const notificationHub = new NotificationHub({
    connectionString: databases.notifications,
    notifications: services.notifications,
    onError: (error) => app.log.warn({ err: error }, 'notification hub'),
  });
  // The catalogue from memory, dropped on every change the inventory database announces.
  const catalogue = new CatalogueCache({
    connectionString: databases.inventory,
    load: (query) => services.inventory.listProductsPage(query),
    onError: (error) => app.log.warn({ err: error }, 'catalogue cache'),
  });
  // Account mail over SMTP_URL; without one no mail goes out and new addresses count as verified (docs/accounts.md).
  const mail = settings.mail.smtpUrl ? accountMail(settings.mail) : undefined;
  const app = await buildApp({
    mail,
    settings,
    catalogue,
    services,
    checkout: new CheckoutClient(client, { deadlineMs: settings.temporalDeadlineMs }),
    notificationHub,
    sessionEvents: { connectionString: databases.accounts },
    notifier: client,
    probes: readinessProbes(services, temporal),
    logger: { level: process.env.LOG_LEVEL ?? 'info' },
    tracing,
    codec: temporalSettings.codec
      ? { codec: temporalSettings.codec, allowedOrigins: codecOriginsFromEnv() }
      : undefined,
  });
  // Ended sessions and old sign-in failures are deleted hourly (services/accounts/purge.ts).
  const stopAccountsPurge = startAccountsPurge({
    accounts: services.accounts,
    onPurged: (counts) => app.log.info({ purged: counts }, 'accounts purge'),
    onError: (error) => app.log.warn({ err: error }, 'accounts purge'),
  });
  // METRICS_PORT: /metrics on a port only Prometheus reaches (docs/production.md); the app's port has none.
  const metricsServer =
    settings.metricsPort === undefined
      ? undefined
      : await serveMetrics(app.metrics.registry, { port: settings.metricsPort, host: settings.host });
  app.addHook('onClose', async () => {
    await metricsServer?.close();
    stopAccountsPurge();
    mail?.close();
    await notificationHub.close();
    await catalogue.close();
    await temporal.close();
    await services.close();
    await tracing?.shutdown();
  });

  // close-with-grace: one path for SIGTERM/SIGINT and uncaught errors, with a deadline (Fastify's own recommendation).
  closeWithGrace({ delay: 10_000 }, async ({ signal, err }) => {
    if (err) app.log.error({ err }, 'closing after an uncaught error');
    else app.log.info({ signal }, 'closing');
    await app.close();
  });

  // Not awaited: until it listens (or while the inventory database is away) the catalogue is read per request.
  void catalogue.start();
  await app.listen({ port: settings.port, host: settings.host });
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
