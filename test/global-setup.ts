/**
 * Jest global setup: one Temporal dev server, one stripe-mock and one set of migrated
 * template databases for the whole run. Their addresses reach the test files through
 * process.env, which Jest's workers inherit.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startTestInfrastructure } from '../harness/test-infrastructure';
import { prepareDatabaseTemplates } from './helpers/databases';
import { bundleWorkflowsOnce } from './helpers/temporal';

export default async function globalSetup(): Promise<void> {
  const bundles = mkdtempSync(path.join(tmpdir(), 'storefront-test-bundles-'));
  const [infrastructure, bundleEnv] = await Promise.all([startTestInfrastructure(), bundleWorkflowsOnce(bundles)]);
  Object.assign(process.env, infrastructure.env, bundleEnv);
  await prepareDatabaseTemplates();
  (globalThis as { __storefrontInfrastructure?: unknown; __storefrontBundles?: string }).__storefrontInfrastructure =
    infrastructure;
  (globalThis as { __storefrontBundles?: string }).__storefrontBundles = bundles;
}
