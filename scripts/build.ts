/**
 * `npm run build`: compiles the production programs to dist/ (tsconfig.build.json) and copies
 * beside them the files they read at run time by path: the dashboard (web/) and each service's
 * SQL migrations (prisma/<service>/migrations), so that dist/ keeps the repository's layout.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, rmSync } from 'node:fs';
import path from 'node:path';
import { SERVICES } from '../lib/service-names';
import { generateClients } from '../devstack/generate-clients';

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
}

if (require.main === module) {
  const started = Date.now();
  build()
    .then(() => console.log(`built dist/ in ${Date.now() - started} ms`))
    .catch((error: unknown) => {
      console.error(error instanceof Error ? error.message : error);
      process.exit(1);
    });
}
