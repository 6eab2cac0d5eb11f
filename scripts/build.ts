/**
 * `npm run build`: compiles the production programs to dist/ (tsconfig.build.json), copies
 * beside them the files they read at run time by path: the dashboard (web/) and each service's
 * SQL migrations (prisma/<service>/migrations), so that dist/ keeps the repository's layout, and
 * bundles the workflow code once, with and without the tracing interceptors, for the worker to load
 * (worker/workflow-bundle.ts) instead of running webpack as it starts.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { SERVICES } from '../lib/service-names';
import { SILENT_LOGGER } from '../lib/logging';
import { generateClients } from '../devstack/generate-clients';
import { WORKFLOW_TRACING_MODULE } from '../temporal/tracing';
import { BUILT_WORKFLOW_BUNDLES } from '../worker/workflow-bundle';
import { commandLineOrExit } from '../lib/command-line';

const ROOT = path.resolve(__dirname, '..');
const DIST = path.join(ROOT, 'dist');

export async function build(): Promise<void> {
  await generateClients();
  rmSync(DIST, { recursive: true, force: true });
  execFileSync(
    process.execPath,
    [require.resolve('typescript/bin/tsc'), '-p', path.join(ROOT, 'tsconfig.build.json')],
    { cwd: ROOT, stdio: 'inherit' },
  );
  cpSync(path.join(ROOT, 'web'), path.join(DIST, 'web'), { recursive: true });
  for (const service of SERVICES) {
    cpSync(path.join(ROOT, 'prisma', service, 'migrations'), path.join(DIST, 'prisma', service, 'migrations'), {
      recursive: true,
    });
  }
  // From the sources, as the worker would bundle them at start (the compiled dist/workflows are CommonJS for Node).
  const workflowsPath = path.join(ROOT, 'workflows');
  for (const [kind, file] of Object.entries(BUILT_WORKFLOW_BUNDLES)) {
    const { code } = await bundleWorkflowCode({
      workflowsPath,
      ...(kind === 'traced' ? { workflowInterceptorModules: [WORKFLOW_TRACING_MODULE] } : {}),
      logger: SILENT_LOGGER,
    });
    writeFileSync(path.join(DIST, file), code);
  }
}

if (require.main === module) {
  commandLineOrExit(
    'npm run build: compiles what production runs into dist/, with the dashboard, the migrations and the workflow bundles.',
    {},
    () => undefined,
  );
  const started = Date.now();
  build()
    .then(() => console.log(`built dist/ in ${Date.now() - started} ms`))
    .catch((error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exit(1);
    });
}
