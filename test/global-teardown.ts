/** Jest global teardown: stops what global setup started and drops the template databases. */
import { rmSync } from 'node:fs';
import type { TestInfrastructure } from '../harness/test-infrastructure';
import { dropDatabaseTemplates } from './helpers/databases';

export default async function globalTeardown(): Promise<void> {
  const infrastructure = (globalThis as { __storefrontInfrastructure?: TestInfrastructure }).__storefrontInfrastructure;
  await dropDatabaseTemplates();
  await infrastructure?.stop();
  const bundles = (globalThis as { __storefrontBundles?: string }).__storefrontBundles;
  if (bundles) rmSync(bundles, { recursive: true, force: true });
}
