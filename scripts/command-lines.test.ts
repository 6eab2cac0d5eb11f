/**
 * The bench, chaos and fuzz scripts read their command lines with lib/command-line.ts: a typo stops
 * them before anything starts (exit 64, the reason and the usage), and --help prints the usage.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

jest.setTimeout(60_000);

const ROOT = path.resolve(__dirname, '..');
const run = (script: string, ...args: string[]) =>
  promisify(execFile)(process.execPath, ['--import', 'tsx', path.join(ROOT, script), ...args], { cwd: ROOT });

it.each([
  ['scripts/chaos.ts', ['--quik'], /Unknown option '--quik'/],
  ['scripts/fuzz.ts', ['--seed', 'x'], /--seed must be a whole number or "random", not "x"/],
  ['bench/run.ts', ['--only'], /--only/],
])('%s refuses %j before starting anything', async (script, args, reason) => {
  await expect(run(script, ...args)).rejects.toMatchObject({
    code: 64,
    stdout: '',
    stderr: expect.stringMatching(reason),
  });
});

it.each(['scripts/chaos.ts', 'scripts/fuzz.ts', 'bench/run.ts'])('%s --help prints its options', async (script) => {
  const { stdout } = await run(script, '--help');
  expect(stdout).toMatch(/^npm run \w+ -- \[options\]/);
  expect(stdout).toContain('--help');
});
