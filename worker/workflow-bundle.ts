/**
 * The workflow code a worker runs: bundled ahead of time when it can be (Temporal's advice for
 * production: no webpack at start, a few seconds of CPU saved, and every process of a release runs
 * the same bytes), else bundled by the SDK as the worker starts (`workflows/`, under tsx).
 *
 * `npm run build` (scripts/build.ts) writes both bundles beside the compiled worker, so the image
 * carries them; WORKFLOW_BUNDLE names another one (the tests, the benchmarks and the chaos run
 * build their own once per run).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';

/** The bundles `npm run build` writes into dist/: one with the workflow-side tracing interceptors, one without. */
export const BUILT_WORKFLOW_BUNDLES = { plain: 'workflow-bundle.js', traced: 'workflow-bundle.traced.js' } as const;

/** dist/, when this module runs compiled from it (dist/worker/workflow-bundle.js); undefined from the sources. */
const DIST = __filename.endsWith('.js') ? path.resolve(__dirname, '..') : undefined;

/** The bundle to load, or undefined to bundle `workflows/` at start. */
export function prebuiltWorkflowBundle(
  tracing: boolean,
  env: Record<string, string | undefined> = process.env,
  dist: string | undefined = DIST,
): string | undefined {
  const named = env.WORKFLOW_BUNDLE?.trim();
  if (named) return named;
  if (!dist) return undefined;
  const built = path.join(dist, BUILT_WORKFLOW_BUNDLES[tracing ? 'traced' : 'plain']);
  return existsSync(built) ? built : undefined;
}
