/**
 * The API overhead benchmark's middle variant: the real storefront app (buildApp, every plugin,
 * hook and schema) with the catalogue read once and answered from memory, so that the
 * difference to the real API is the database read and the difference to bare Fastify is the
 * framework work around it.
 */
import { buildApp } from '../api/app';
import { CheckoutClient } from '../lib/checkout-client';
import { databaseUrlsFromEnv, loadSettings } from '../lib/config';
import { createClient, lazyClient, temporalSettingsFromEnv } from '../lib/temporal-connection';
import { openServices } from '../services';

async function main(): Promise<void> {
  const settings = loadSettings();
  const services = openServices(databaseUrlsFromEnv(), settings);
  const catalogue = await services.inventory.listProducts();
  services.inventory.listProducts = async () => catalogue;
  const temporalSettings = temporalSettingsFromEnv();
  const temporal = lazyClient(temporalSettings);
  const app = await buildApp({ settings, services, checkout: new CheckoutClient(createClient(temporal, temporalSettings)) });
  await app.listen({ port: settings.port, host: '127.0.0.1' });
  console.log(`cached-catalogue API listening on ${settings.port}`);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => void app.close().then(async () => {
      await services.close();
      process.exit(0);
    }));
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
