/**
 * Jest global setup: one Temporal dev server, one stripe-mock and one set of migrated
 * template databases for the whole run. Their addresses reach the test files through
 * process.env, which Jest's workers inherit.
 */
import { startTestInfrastructure } from './helpers/stack';
import { prepareDatabaseTemplates } from './helpers/databases';

export default async function globalSetup(): Promise<void> {
  const infrastructure = await startTestInfrastructure();
  Object.assign(process.env, infrastructure.env);
  await prepareDatabaseTemplates();
  (globalThis as { __storefrontInfrastructure?: unknown }).__storefrontInfrastructure = infrastructure;
}
