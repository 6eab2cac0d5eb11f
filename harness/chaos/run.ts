/**
 * One chaos run: start the stack, play the scenarios, check the invariants, and return the
 * report that `npm run chaos` writes to bench/results/chaos.json (and the quick test asserts on).
 */
import { checkoutRunning } from '../../temporal/checkout-client';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SERVICES } from '../../lib/service-names';
import { ALL_BOUNDARIES, describeBoundary } from './boundaries';
import { checkInvariants, type Violation } from './invariants';
import { createCatalog, delay, finalStatus, SagaDriver, seededRandom } from './sagas';
import { Operator } from './operator';
import { ALL_RESETS, QUICK_RESETS, QUICK_TERMINATIONS, TERMINATE_CASES } from './operator-cases';
import { workflowReset, workflowTerminate } from './operator-scenarios';
import {
  databaseOutage,
  duplicates,
  refunds,
  stripeOutage,
  temporalRestart,
  workerKills,
  type Scenario,
  type ScenarioContext,
  type ScenarioOptions,
} from './scenarios';
import { ChaosStack } from './stack';

/** In the order the full run plays them. */
export const ALL_SCENARIOS: readonly Scenario[] = [
  duplicates,
  stripeOutage,
  databaseOutage,
  refunds,
  workflowReset,
  workflowTerminate,
  temporalRestart,
  workerKills,
];

/** The time-to-live a recovery run gives an order it finds still PENDING (ORDER_TTL_SECONDS of `ops repair`). */
const RECOVERY_TTL_SECONDS = 600;

export interface ChaosOptions extends ScenarioOptions {
  quick: boolean;
  seed: number;
  /** A PostgreSQL server URL; the run works in databases of its own (`chaos_*`) on it. */
  serverUrl: string;
  log: (line: string) => void;
  verbose?: boolean;
  /** Run only these scenarios (by name); all by default. */
  only?: readonly string[];
  /** Overlap the scenarios (the quick schedule, see playOverlapped) rather than play them one at a time. */
  overlap: boolean;
  /** Keep the databases and the Temporal SQLite file after the run, to look into a failure. */
  keep?: boolean;
  /** Stop every process the run started on SIGINT/SIGTERM, then exit (for the command line). */
  handleSignals?: boolean;
}

export interface ScenarioReport {
  name: string;
  description: string;
  sagas: number;
  durationMs: number;
  /** How the scenario's orders ended, by status. */
  outcomes: Record<string, number>;
  /** Orders that ended otherwise than their plan leads to (not violations: e.g. FAILED after retries ran out). */
  surprises: Array<{ orderId: string; plan: string; boundary?: string; status: string; events: string[] }>;
  details: Record<string, unknown>;
}

export interface ChaosReport {
  at: string;
  quick: boolean;
  seed: number;
  durationMs: number;
  machine: { cores: number; memoryGb: number; node: string; platform: string };
  scenarios: ScenarioReport[];
  sagas: number;
  workerKills: number;
  temporalRestarts: number;
  /** Checkouts reset, terminated, and stranded orders repaired (recovery runs started). */
  resets: number;
  terminations: number;
  repairs: number;
  checked: Record<string, number>;
  evidence: Record<string, number>;
  violations: Violation[];
}

/**
 * The quick run kills at every boundary once, dealt round-robin into waves of this size (the
 * same deal as the full run's, one saga per boundary): each wave is one kill or a few, so the
 * waves bound the time, and no boundary is left to chance.
 */
export const QUICK_WAVE_SIZE = 17;

export function chaosOptions(
  quick: boolean,
  base: Pick<ChaosOptions, 'serverUrl' | 'log'> & Partial<ChaosOptions>,
): ChaosOptions {
  const shared = {
    seed: 7,
    pauseWindowMs: 8_000,
    outageMs: 10_000,
    temporalDownMs: 3_000,
    settleMs: 180_000,
    everyBoundary: ALL_BOUNDARIES,
  };
  const sized = quick
    ? {
        killBoundaries: ALL_BOUNDARIES,
        killRepeats: 1,
        waveSize: QUICK_WAVE_SIZE,
        temporalRestarts: ['SIGTERM' as const],
        restartSagas: 5,
        // cart: its outage overlaps the Stripe one in the quick schedule without keeping charges from Stripe.
        outageServices: ['cart' as const],
        outageSagas: 4,
        stripeOutageSagas: 3,
        duplicatePaymentOrders: 2,
        webhookOrders: 2,
        usageKeys: 12,
        refundOrders: 1,
        resets: QUICK_RESETS,
        terminations: QUICK_TERMINATIONS,
      }
    : {
        killBoundaries: ALL_BOUNDARIES,
        killRepeats: 3, // 48 boundaries x 3 = 144 sagas killed at a boundary
        waveSize: 19,
        temporalRestarts: ['SIGTERM' as const, 'SIGKILL' as const],
        restartSagas: 15,
        // The services the workers reach: accounts has no task queue, so no saga would feel its outage.
        outageServices: SERVICES.filter((service) => service !== 'accounts'),
        outageSagas: 6,
        stripeOutageSagas: 8,
        duplicatePaymentOrders: 8,
        webhookOrders: 6,
        usageKeys: 12,
        refundOrders: 2,
        resets: ALL_RESETS, // 11 cases x 3 points
        terminations: [...TERMINATE_CASES, ...TERMINATE_CASES], // 11 cases, twice
      };
  return { quick, overlap: quick, ...shared, ...sized, ...base };
}

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const started = Date.now();
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'storefront-chaos-'));
  const stack = await ChaosStack.start({
    serverUrl: options.serverUrl,
    dataDir,
    log: options.log,
    verbose: options.verbose,
    keep: options.keep,
  });
  const onSignal = (signal: NodeJS.Signals) => {
    options.log(`chaos: ${signal}: stopping what the run started`);
    void stack.close().finally(() => {
      rmSync(dataDir, { recursive: true, force: true });
      process.exit(130);
    });
  };
  if (options.handleSignals) for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, onSignal);
  let operator: Operator | undefined;
  try {
    const workerBegun = Date.now();
    await stack.startWorker();
    options.log(`chaos: worker polling after ${((Date.now() - workerBegun) / 1000).toFixed(1)} s`);
    const catalog = await createCatalog(stack.services, Date.now().toString(36));
    const driver = new SagaDriver(stack.client, stack.services, catalog, seededRandom(options.seed));
    operator = new Operator(stack.client, stack.services, stack.urls, RECOVERY_TTL_SECONDS);
    const ctx: ScenarioContext = {
      stack,
      driver,
      options,
      log: options.log,
      violations: [],
      extraUsers: [],
      operator,
    };
    const chosen = ALL_SCENARIOS.filter((s) => !options.only || options.only.includes(s.name));
    const scenarios = options.overlap ? await playOverlapped(chosen, ctx) : await playInTurn(chosen, ctx);

    options.log(`chaos: checking invariants over ${driver.sagas.length} sagas`);
    const invariants = await checkInvariants({
      urls: stack.urls,
      sagas: driver.sagas,
      catalog,
      carts: driver.carts,
      stripeCalls: stack.stripe.requests,
      extraUsers: ctx.extraUsers,
      notificationDeadline: Date.now() + 30_000,
      checkoutRunning: (orderId) => checkoutRunning(stack.client, orderId),
    });
    return {
      at: new Date().toISOString(),
      quick: options.quick,
      seed: options.seed,
      durationMs: Date.now() - started,
      machine: {
        cores: os.cpus().length,
        memoryGb: Math.round(os.totalmem() / 2 ** 30),
        node: process.version,
        platform: `${os.platform()} ${os.arch()}`,
      },
      scenarios,
      sagas: driver.sagas.length,
      workerKills: stack.workerKills,
      temporalRestarts: stack.temporalRestarts,
      ...operator.tally,
      checked: invariants.checked,
      evidence: {
        ...invariants.evidence,
        workerKills: stack.workerKills,
        temporalRestarts: stack.temporalRestarts,
        ...operator.tally,
      },
      violations: [...ctx.violations, ...invariants.violations],
    };
  } finally {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) process.off(signal, onSignal);
    await operator?.close();
    await stack.close();
    if (options.keep)
      options.log(`chaos: kept ${dataDir} and the databases ${Object.values(stack.databaseNames).join(', ')}`);
    else rmSync(dataDir, { recursive: true, force: true });
  }
}

async function playInTurn(scenarios: readonly Scenario[], ctx: ScenarioContext): Promise<ScenarioReport[]> {
  const reports: ScenarioReport[] = [];
  for (const scenario of scenarios) reports.push(await play(scenario, ctx));
  return reports;
}

/**
 * The quick schedule: the worker kills go first; once the worker has been killed (its sagas then
 * wait out their killed activities' timeouts) the duplicates and the refunds run alongside the
 * later waves, which must kill through them. The outages and the operators' resets and
 * terminations wait for the last wave: an outage would keep a wave's sagas from their boundaries,
 * and a kill would take the activity an operator holds. The Temporal restart comes last, while the
 * slowest of those are still recovering.
 */
async function playOverlapped(scenarios: readonly Scenario[], ctx: ScenarioContext): Promise<ScenarioReport[]> {
  const reports = new Map<Scenario, Promise<ScenarioReport>>();
  const start = (scenario: Scenario) => {
    const report = play(scenario, ctx);
    report.catch(() => undefined);
    reports.set(scenario, report);
    return report;
  };
  const kills = scenarios.find((s) => s === workerKills);
  let killsOver = () => true;
  if (kills) {
    const killing = start(kills);
    let done = false;
    killing.finally(() => (done = true)).catch(() => undefined);
    killsOver = () => done || ctx.killWavesOver === true;
    while (ctx.stack.workerKills === 0 && !done) await delay(100);
  }
  const alongsideKills = scenarios.filter((s) => s === duplicates || s === refunds);
  const early = alongsideKills.map(start);
  while (!killsOver()) await delay(100);
  const middle = scenarios.filter((s) => s !== workerKills && s !== temporalRestart && !alongsideKills.includes(s));
  await Promise.all([...early, ...middle.map(start)]);
  const restart = scenarios.find((s) => s === temporalRestart);
  if (restart) await start(restart);
  return Promise.all(scenarios.map((s) => reports.get(s)!));
}

async function play(scenario: Scenario, ctx: ScenarioContext): Promise<ScenarioReport> {
  ctx.log(`chaos: ${scenario.name}...`);
  const begun = Date.now();
  const { sagas, details } = await scenario.run(ctx);
  const outcomes: Record<string, number> = {};
  for (const saga of sagas) {
    const status = finalStatus(saga);
    outcomes[status] = (outcomes[status] ?? 0) + 1;
  }
  const surprises = sagas
    .filter((saga) => !saga.expected.includes(finalStatus(saga) as never))
    .map((saga) => ({
      orderId: saga.orderId,
      plan: saga.plan,
      ...(saga.boundary ? { boundary: describeBoundary(saga.boundary) } : {}),
      status: finalStatus(saga),
      events: saga.events,
    }));
  const report = {
    name: scenario.name,
    description: scenario.description,
    sagas: sagas.length,
    durationMs: Date.now() - begun,
    outcomes,
    surprises,
    details,
  };
  ctx.log(
    `chaos: ${scenario.name}: ${sagas.length} sagas in ${(report.durationMs / 1000).toFixed(1)} s, ${JSON.stringify(outcomes)}${surprises.length ? `, ${surprises.length} surprises` : ''}`,
  );
  return report;
}
