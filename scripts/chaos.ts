/**
 * `npm run chaos [-- --quick] [--only <scenario,...>] [--seed N] [--kill-repeats N] [--wave-size N] [--keep] [--verbose]`: the chaos run of
 * harness/chaos/ against the whole stack started as processes. Writes bench/results/chaos.json
 * (`{scenarios, sagas, violations, ...}`; a quick run writes bench/results/quick/chaos.json, not
 * kept, as the quick benchmarks do) and exits 1 on any violation.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { resolvePostgres } from '../devstack/postgres';
import { chaosOptions, runChaos } from '../harness/chaos/run';
import { generateClients } from '../devstack/generate-clients';
import { commandLineOrExit, wholeNumber } from '../lib/command-line';

const RESULTS_DIR = path.resolve(__dirname, '..', 'bench', 'results');

const USAGE = `npm run chaos -- [options]: the chaos run against the whole stack started as processes.
Writes bench/results/chaos.json (a quick run: bench/results/quick/chaos.json) and exits 1 on any violation.`;

const OPTIONS = {
  quick: { type: 'boolean', help: 'a few sagas per scenario (minutes, not the full run)' },
  only: { type: 'string', help: 'only these scenarios, comma-separated' },
  seed: { type: 'string', help: 'the random seed (a whole number)' },
  'kill-repeats': { type: 'string', help: 'how many times each kill scenario repeats' },
  'wave-size': { type: 'string', help: 'sagas started at once' },
  keep: { type: 'boolean', help: "keep the run's databases and logs" },
  verbose: { type: 'boolean', help: "the processes' own output" },
} as const;

async function main(): Promise<number> {
  const args = commandLineOrExit(USAGE, OPTIONS, (values) => ({
    quick: values.quick ?? false,
    verbose: values.verbose ?? false,
    keep: values.keep ?? false,
    only: values.only?.split(',').filter(Boolean),
    seed: wholeNumber('seed', values.seed),
    repeats: wholeNumber('kill-repeats', values['kill-repeats'], { min: 1 }),
    wave: wholeNumber('wave-size', values['wave-size'], { min: 1 }),
  }));
  const { quick } = args;
  const results = path.join(RESULTS_DIR, ...(quick ? ['quick'] : []), 'chaos.json');
  const log = (line: string) => process.stdout.write(`${line}\n`);
  await generateClients();
  const postgres = await resolvePostgres({ onLog: () => undefined });
  try {
    const { only, seed, repeats, wave } = args;
    const options = chaosOptions(quick, {
      serverUrl: postgres.serverUrl,
      log,
      verbose: args.verbose,
      handleSignals: true,
      keep: args.keep,
      ...(only ? { only } : {}),
      ...(seed !== undefined ? { seed } : {}),
      ...(repeats !== undefined ? { killRepeats: repeats } : {}),
      ...(wave !== undefined ? { waveSize: wave } : {}),
    });
    const report = await runChaos(options);
    mkdirSync(path.dirname(results), { recursive: true });
    writeFileSync(results, `${JSON.stringify(report, null, 2)}\n`);
    const surprises = report.scenarios.reduce((n, s) => n + s.surprises.length, 0);
    log(
      `chaos${quick ? ' (quick)' : ''}: ${report.sagas} sagas, ${report.scenarios.length} scenarios, ${report.workerKills} worker kills, ` +
        `${report.temporalRestarts} Temporal restarts, ${report.resets} resets, ${report.terminations} terminations, ` +
        `${report.repairs} repairs, ${report.violations.length} violations, ${surprises} surprises, ` +
        `${(report.durationMs / 1000).toFixed(0)} s → ${path.relative(process.cwd(), results)}`,
    );
    for (const violation of report.violations) {
      log(
        `  VIOLATION ${violation.invariant}${violation.scenario ? ` [${violation.scenario}]` : ''}${violation.orderId ? ` order ${violation.orderId}` : ''}: ${violation.detail}`,
      );
    }
    return report.violations.length === 0 ? 0 : 1;
  } finally {
    await postgres.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error);
    process.exit(2);
  },
);
