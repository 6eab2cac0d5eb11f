/**
 * `npm run fuzz -- [--runs N] [--seed S]`: the fuzz tier (api/*.fuzz.test.ts) for a long run or a
 * replay. N requests (default 2,000, as in `npm test`) from seed S (default the tier's fixed one;
 * `random` draws one and prints it).
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';

function option(argv: readonly string[], name: string): string | undefined {
  const at = argv.findIndex((arg) => arg === `--${name}` || arg.startsWith(`--${name}=`));
  if (at < 0) return undefined;
  const arg = argv[at]!;
  return arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : argv[at + 1];
}

const argv = process.argv.slice(2);
const runs = option(argv, 'runs');
const seedOption = option(argv, 'seed');
if (runs !== undefined && !/^[1-9]\d*$/.test(runs))
  throw new Error(`--runs must be a positive whole number, not "${runs}"`);
const seed = seedOption === 'random' ? String(Math.floor(Math.random() * 2 ** 31)) : seedOption;
if (seed !== undefined && !/^-?\d+$/.test(seed))
  throw new Error(`--seed must be a whole number or "random", not "${seed}"`);
if (seed) console.log(`fuzz: seed ${seed}`);

const jest = path.resolve(__dirname, '../node_modules/.bin/jest');
const result = spawnSync(jest, ['--selectProjects', 'fuzz', '--ci'], {
  stdio: 'inherit',
  env: { ...process.env, ...(runs ? { FUZZ_RUNS: runs } : {}), ...(seed ? { FUZZ_SEED: seed } : {}) },
});
process.exit(result.status ?? 1);
