/**
 * Every script's command line (each `npm run` entry but ops, which has its own, and the programs
 * the benchmarks start) is read with lib/command-line.ts: a typo stops it before anything starts
 * (exit 64, the reason and the usage), and --help prints the usage.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

jest.setTimeout(120_000);

const ROOT = path.resolve(__dirname, '..');
const run = (script: string, ...args: string[]) =>
  promisify(execFile)(process.execPath, ['--import', 'tsx', path.join(ROOT, script), ...args], {
    cwd: ROOT,
    // NODE_ENV=production would make the API and the worker refuse their settings first; the tests' own settings stay out.
    env: { PATH: process.env.PATH, HOME: process.env.HOME },
  });

/** The script `npm run <name>` (and `npm start`) runs, with the words of its usage line. */
const SCRIPTS: ReadonlyArray<[script: string, usage: RegExp]> = [
  ['scripts/chaos.ts', /^npm run chaos -- \[options\]/],
  ['scripts/fuzz.ts', /^npm run fuzz -- \[options\]/],
  ['bench/run.ts', /^npm run bench -- \[options\]/],
  ['scripts/build.ts', /^npm run build:/],
  ['scripts/cluster.ts', /^npm run cluster:/],
  ['scripts/record-histories.ts', /^npm run histories:record -- \[scenario \.\.\.\] \[options\]/],
  ['devstack/local-stack.ts', /^npm start:/],
  ['devstack/generate-clients.ts', /^npm run db:generate -- \[options\]/],
  ['devstack/migrate-all.ts', /^npm run db:migrate:/],
  ['devstack/seed.ts', /^npm run db:seed:/],
  ['worker.ts', /^npm run worker -- \[options\]/],
  ['api/server.ts', /^npm run api:/],
  ['scripts/test-on-node.ts', /^npm run test:node -- \[path \.\.\.\] \[options\]/],
  ['bench/bare-server.ts', /^bench\/bare-server\.ts:/],
  ['bench/api-uncached-server.ts', /^bench\/api-uncached-server\.ts:/],
];

// One process per script (each loads its whole program through tsx): the refusal prints the usage, so
// it shows both that the script reads its command line first and what --help would print.
it.each(SCRIPTS)(
  '%s refuses a flag it does not know before starting anything, with its usage',
  async (script, usage) => {
    const refused = await run(script, '--quik').then(
      () => ({ code: 0, stdout: '', stderr: '' }),
      (error: { code: number; stdout: string; stderr: string }) => error,
    );
    expect(refused).toMatchObject({ code: 64, stdout: '' });
    const [reason, ...help] = refused.stderr.split('\n\n');
    expect(reason).toMatch(/^Unknown option '--quik'/);
    expect(help.join('\n\n')).toMatch(usage);
    expect(help.join('\n\n')).toContain('--help');
  },
);

it.each(['devstack/generate-clients.ts', 'scripts/fuzz.ts', 'devstack/migrate-all.ts'])(
  '%s --help prints its usage on stdout and exits 0',
  async (script) => {
    const { stdout, stderr } = await run(script, '--help');
    expect(stdout).toMatch(/^npm run [\w:]+/);
    expect(stdout).toContain('--help');
    expect(stderr).toBe('');
  },
);

it.each([
  ['scripts/fuzz.ts', ['--seed', 'x'], /--seed must be a whole number or "random", not "x"/],
  ['bench/run.ts', ['--only'], /--only/],
  ['worker.ts', ['--services', 'payment'], /--services takes a comma-separated list of .*; unknown: payment/],
  ['scripts/record-histories.ts', ['paied'], /no scenario named paied; the scenarios: .*\bpaid\b/],
  ['devstack/generate-clients.ts', ['stray'], /stray/],
  ['scripts/test-on-node.ts', ['--tiers', 'unit,quick'], /--tiers takes some of unit, workflow, .*; unknown: quick/],
  ['scripts/test-on-node.ts', ['--node', 'lts'], /--node takes a Node major such as 24, not "lts"/],
])('%s refuses %j before starting anything', async (script, args, reason) => {
  await expect(run(script, ...args)).rejects.toMatchObject({
    code: 64,
    stdout: '',
    stderr: expect.stringMatching(reason),
  });
});
