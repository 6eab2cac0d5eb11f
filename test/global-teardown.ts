/** Jest global teardown: stops what global setup started and drops the template databases. */
import type { TestInfrastructure } from './helpers/stack';
import { dropDatabaseTemplates } from './helpers/databases';

export default async function globalTeardown(): Promise<void> {
  const infrastructure = (globalThis as { __storefrontInfrastructure?: TestInfrastructure }).__storefrontInfrastructure;
  await dropDatabaseTemplates();
  await infrastructure?.stop();
}
