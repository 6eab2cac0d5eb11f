/**
 * `npm run fuzz -- [--runs N] [--seed S]`: the fuzz tier (api/*.fuzz.test.ts) for a long run or a
 * replay. N requests (default 2,000, as in `npm test`) from seed S (default the tier's fixed one;
 * `random` draws one and prints it).
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { commandLineOrExit, UsageError, wholeNumber } from '../lib/command-line';

const USAGE = `npm run fuzz -- [options]: the fuzz tier (api/*.fuzz.test.ts) for a long run or a replay.`;

const { runs, seed } = commandLineOrExit(
  USAGE,
  {
    runs: { type: 'string', help: 'requests to send (default 2,000, as in npm test)' },
    seed: { type: 'string', help: 'the seed, a whole number or "random" (default the tier\'s fixed one)' },
  },
  (values) => {
    const seedOption = values.seed === 'random' ? String(Math.floor(Math.random() * 2 ** 31)) : values.seed;
    if (seedOption !== undefined && !/^-?\d+$/.test(seedOption))
      throw new UsageError(`--seed must be a whole number or "random", not "${seedOption}"`);
    return { runs: wholeNumber('runs', values.runs, { min: 1 }), seed: seedOption };
  },
);
if (seed) console.log(`fuzz: seed ${seed}`);

const jest = path.resolve(__dirname, '../node_modules/.bin/jest');
const result = spawnSync(jest, ['--selectProjects', 'fuzz', '--ci'], {
  stdio: 'inherit',
  env: { ...process.env, ...(runs ? { FUZZ_RUNS: String(runs) } : {}), ...(seed ? { FUZZ_SEED: seed } : {}) },
});
process.exit(result.status ?? 1);
