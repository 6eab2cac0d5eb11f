/**
 * `npm run test:node -- [--node 24] [--tiers unit,api,workflow] [--in-band] [path ...]`: test tiers
 * (jest.config.js's projects) on another Node major than the one running npm, installed from the
 * npm registry by .ci/node-from-registry.sh as CI installs the Node of .nvmrc. The suite's
 * node_modules serve both: the native packages (the Temporal core bridge, swc, esbuild, argon2)
 * are Node-API builds, which one binary serves on every Node major.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import path from 'node:path';
import { commandLineOrExit, UsageError } from '../lib/command-line';

const ROOT = path.resolve(__dirname, '..');

const USAGE = `npm run test:node -- [path ...] [options]: test tiers on another Node major, installed from the
npm registry into ~/.cache/storefront-sagas/ (as .ci/run installs the Node of .nvmrc). Paths narrow
the run to the test files they match, as with jest.`;

/** The tiers jest.config.js defines, by the name `--selectProjects` takes. */
function tierNames(): string[] {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const config = require(path.join(ROOT, 'jest.config.js')) as { projects: Array<{ displayName: string }> };
  return config.projects.map((project) => project.displayName);
}

const { major, tiers, inBand, paths } = commandLineOrExit(
  USAGE,
  {
    node: { type: 'string', help: 'the Node major to run on (default 24)' },
    tiers: { type: 'string', help: 'the tiers, comma-separated (default unit,api,workflow: the quick ones)' },
    'in-band': { type: 'boolean', help: 'one test file at a time, in one process (a small or shared machine)' },
  },
  (values, positionals) => {
    const node = values.node ?? '24';
    if (!/^\d+$/.test(node)) throw new UsageError(`--node takes a Node major such as 24, not "${node}"`);
    const chosen = (values.tiers ?? 'unit,api,workflow').split(',').filter(Boolean);
    const known = tierNames();
    const unknown = chosen.filter((tier) => !known.includes(tier));
    if (chosen.length === 0 || unknown.length > 0)
      throw new UsageError(
        `--tiers takes some of ${known.join(', ')}; unknown: ${unknown.join(', ') || '(none given)'}`,
      );
    return { major: node, tiers: chosen, inBand: values['in-band'] ?? false, paths: positionals };
  },
  process.argv.slice(2),
  { positionals: true },
);

const bin = execFileSync('bash', [path.join(ROOT, '.ci', 'node-from-registry.sh'), major], {
  cwd: ROOT,
  encoding: 'utf8',
  stdio: ['ignore', 'pipe', 'inherit'],
}).trim();
const node = path.join(bin, 'node');
console.log(`test:node: ${execFileSync(node, ['--version'], { encoding: 'utf8' }).trim()}, tiers ${tiers.join(', ')}`);
const result = spawnSync(
  node,
  [
    path.join(ROOT, 'node_modules', 'jest', 'bin', 'jest.js'),
    '--ci',
    '--selectProjects',
    ...tiers,
    ...(inBand ? ['--runInBand'] : []),
    ...paths,
  ],
  // Node's folder first, so what the tests start (`node`, `npx`, tsx's children) runs on it too.
  { cwd: ROOT, stdio: 'inherit', env: { ...process.env, PATH: `${bin}${path.delimiter}${process.env.PATH ?? ''}` } },
);
process.exit(result.status ?? 1);
