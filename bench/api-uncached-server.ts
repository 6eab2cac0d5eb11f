/**
 * The API overhead benchmark's middle variant: the real storefront app (buildApp, every plugin,
 * hook and schema) without the catalogue cache, so that every GET /v1/products reads the
 * database as it did before the cache: the difference to the real API is what the cache earns.
 */
import { buildApp } from '../api/app';
import { CheckoutClient } from '../temporal/checkout-client';
import { databaseUrlsFromEnv, loadSettings } from '../lib/config';
import { createClient, lazyClient, temporalSettingsFromEnv } from '../temporal/connection';
import { openServices } from '../services';
import { commandLineOrExit } from '../lib/command-line';

async function main(): Promise<void> {
  commandLineOrExit(
    "bench/api-uncached-server.ts: the storefront API without its catalogue cache (the API overhead benchmark's middle variant).",
    {},
    () => undefined,
  );
  const settings = loadSettings();
  const services = openServices(databaseUrlsFromEnv(), settings);
  const temporalSettings = temporalSettingsFromEnv();
  const temporal = lazyClient(temporalSettings);
  const app = await buildApp({
    settings,
    services,
    checkout: new CheckoutClient(createClient(temporal, temporalSettings)),
  });
  await app.listen({ port: settings.port, host: '127.0.0.1' });
  console.log(`uncached-catalogue API listening on ${settings.port}`);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(
      signal,
      () =>
        void app.close().then(async () => {
          await services.close();
          process.exit(0);
        }),
    );
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
