/**
 * The quick chaos run (`npm run chaos -- --quick`) inside `npm test`: the whole stack as processes,
 * a few sagas per scenario (worker SIGKILLed at every activity boundary of the checkout and the
 * refund saga once, the Temporal server restarted on its SQLite file, a service database and
 * Stripe unreachable for 10 s, duplicate payments, webhooks and usage events, refunds after the
 * sale (racing ones too), checkouts reset, and checkouts terminated then repaired), then every
 * invariant over the seven databases. See harness/chaos/README.md.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ALL_BOUNDARIES } from '../harness/chaos/boundaries';
import { QUICK_RESETS, QUICK_TERMINATIONS } from '../harness/chaos/operator-cases';
import { chaosOptions, runChaos, type ChaosReport } from '../harness/chaos/run';
import { testRun } from './helpers/databases';

// About two minutes on the 2-core machine; eight under the load of parallel test runs (load average 25).
jest.setTimeout(720_000);

let report: ChaosReport;

beforeAll(async () => {
  const lines: string[] = [];
  report = await runChaos(chaosOptions(true, { serverUrl: testRun().serverUrl, log: (line) => lines.push(line) }));
  // Kept for whoever reads a failure: the run's own log and report.
  const artifacts = path.join(__dirname, 'artifacts');
  mkdirSync(artifacts, { recursive: true });
  writeFileSync(path.join(artifacts, 'chaos-quick.json'), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(path.join(artifacts, 'chaos-quick.log'), `${lines.join('\n')}\n`);
});

it('keeps every invariant across the service databases, Stripe and the workflows', () => {
  expect(report.violations).toEqual([]);
  expect(Object.keys(report.checked).sort()).toEqual(
    [
      // The reconciler's (reconciler/invariants.ts), then the chaos run's own.
      'stock-conserved',
      'one-payment',
      'no-live-reservation',
      'quota-matches-orders',
      'payment-intent-matched',
      'order-has-workflow',
      'cart-cleared-once',
      'refunds-consistent',
      'refund-settled',
      'refunded-once',
      'idempotency-keys',
      'notifications-once',
      'settled',
      'status-history',
    ].sort(),
  );
});

it('played every scenario, and the chaos was felt', () => {
  expect(report.scenarios.map((s) => s.name).sort()).toEqual(
    [
      'duplicates-and-reordering',
      'refunds-after-sale',
      'service-database-unreachable',
      'stripe-unreachable',
      'temporal-server-restart',
      'worker-sigkill-at-activity-boundaries',
      'workflow-reset',
      'workflow-terminate',
    ].sort(),
  );
  const scenario = (name: string) => report.scenarios.find((s) => s.name === name)!;
  expect(report.workerKills).toBeGreaterThanOrEqual(1);
  // Every boundary of the checkout and the refund saga was reached by a kill (the list names any that was not).
  const kills = scenario('worker-sigkill-at-activity-boundaries').details;
  expect(kills.neverReached).toEqual([]);
  expect(kills).toMatchObject({ notReached: [], reached: ALL_BOUNDARIES.length });
  expect(report.temporalRestarts).toBe(1);
  // Every service the run was to cut was cut, and each outage was felt (an empty list would pass an `every`).
  const outages = scenario('service-database-unreachable').details.outages as Array<{
    service: string;
    connectionsRefused: number;
  }>;
  expect(outages.map((outage) => outage.service)).toEqual(['cart']);
  expect(outages.filter((outage) => outage.connectionsRefused === 0)).toEqual([]);
  expect(scenario('stripe-unreachable').details.requestsCut).toBeGreaterThan(0);
  // The charge killed after Stripe charged was sent again, with the same key (checked by the invariants).
  expect(report.evidence.chargesSentMoreThanOnce).toBeGreaterThanOrEqual(1);
  // So was the refund killed after Stripe refunded (stripe-mock keeps nothing to look up): one key, one refund.
  expect(report.evidence.refundsSentMoreThanOnce).toBeGreaterThanOrEqual(1);
  // Every reset and termination was made, and every terminated order repaired (a recovery run started).
  expect(report).toMatchObject({
    resets: QUICK_RESETS.length,
    terminations: QUICK_TERMINATIONS.length,
    repairs: QUICK_TERMINATIONS.length,
  });
  expect(report.sagas).toBeGreaterThanOrEqual(ALL_BOUNDARIES.length + 28);
});
