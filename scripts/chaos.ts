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

const RESULTS_DIR = path.resolve(__dirname, '..', 'bench', 'results');

function flag(args: string[], name: string): string | undefined {
  const index = args.findIndex((arg) => arg === name || arg.startsWith(`${name}=`));
  if (index === -1) return undefined;
  return args[index]!.includes('=') ? args[index]!.split('=').slice(1).join('=') : args[index + 1];
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const quick = args.includes('--quick');
  const results = path.join(RESULTS_DIR, ...(quick ? ['quick'] : []), 'chaos.json');
  const log = (line: string) => process.stdout.write(`${line}\n`);
  await generateClients();
  const postgres = await resolvePostgres({ onLog: () => undefined });
  try {
    const only = flag(args, '--only')?.split(',').filter(Boolean);
    const seed = flag(args, '--seed');
    const repeats = flag(args, '--kill-repeats');
    const wave = flag(args, '--wave-size');
    const options = chaosOptions(quick, {
      serverUrl: postgres.serverUrl,
      log,
      verbose: args.includes('--verbose'),
      handleSignals: true,
      keep: args.includes('--keep'),
      ...(only ? { only } : {}),
      ...(seed ? { seed: Number(seed) } : {}),
      ...(repeats ? { killRepeats: Number(repeats) } : {}),
      ...(wave ? { waveSize: Number(wave) } : {}),
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
