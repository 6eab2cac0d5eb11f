import { randomUUID } from 'node:crypto';
import type { InvariantReport, Violation } from '../../reconciler/invariants';
import { useServiceDatabase } from '../../test/helpers/databases';
import { createOrdersDb } from './db';
import { FindingsService } from './findings.service';

let findings: FindingsService;
useServiceDatabase('orders', createOrdersDb, (db) => {
  findings = new FindingsService(db);
});

const product = randomUUID();
const order = randomUUID();
const stock: Violation = {
  invariant: 'stock-conserved',
  key: `stock-conserved:${product}`,
  detail: 'MUG: reserved 1 ≠ 0 held by reservations',
  productId: product,
};
const intent: Violation = {
  invariant: 'payment-intent-matched',
  key: 'payment-intent-matched:pi_1',
  detail: 'PaymentIntent pi_1 succeeded at Stripe; no payment records it',
  orderId: order,
};

function report(violations: Violation[], skipped: InvariantReport['skipped'] = {}): InvariantReport {
  return {
    checked: {
      'stock-conserved': 3,
      'one-payment': 1,
      'no-live-reservation': 1,
      'quota-matches-orders': 2,
      'payment-intent-matched': skipped['payment-intent-matched'] ? 0 : 1,
      'order-has-workflow': 0,
      'refunds-consistent': 1,
    },
    violations,
    skipped,
  };
}

const record = (r: InvariantReport) => findings.recordRun({ startedAt: new Date(), finishedAt: new Date(), report: r });

test('a drift seen by several runs is one finding; one its invariant was not checked for stays open; one checked for and not found is GONE', async () => {
  // Two checks of one invariant naming the same product: one finding saying both.
  const first = await record(
    report([stock, { ...stock, detail: 'MUG: sold 2 ≠ 1 committed by reservations' }, intent]),
  );
  expect(first.opened.map((f) => [f.invariant, f.detail])).toEqual([
    ['stock-conserved', 'MUG: reserved 1 ≠ 0 held by reservations; MUG: sold 2 ≠ 1 committed by reservations'],
    ['payment-intent-matched', intent.detail],
  ]);

  const second = await record(report([stock, intent]));
  expect([second.opened, second.gone]).toEqual([[], []]);
  expect(second.seenAgain.map((f) => [f.key, f.seenCount])).toEqual([
    [stock.key, 2],
    [intent.key, 2],
  ]);

  // Stripe unreachable this time (the invariant skipped) and the stock repaired.
  const third = await record(report([], { 'payment-intent-matched': 'no source of succeeded PaymentIntents' }));
  expect(third.gone.map((f) => [f.key, f.status, f.closedBy])).toEqual([[stock.key, 'GONE', 'reconciler']]);
  expect((await findings.list()).map((f) => [f.key, f.seenCount])).toEqual([[intent.key, 2]]);
  expect(await findings.list({ status: 'any' })).toHaveLength(2);

  expect(await findings.latestRun()).toMatchObject({
    runId: third.runId,
    violations: { 'stock-conserved': 0, 'one-payment': 0, 'no-live-reservation': 0, 'quota-matches-orders': 0 },
  });
  expect((await findings.latestRun())!.violations).not.toHaveProperty('payment-intent-matched');
});

test('resolving: only an open finding, once, with who and why', async () => {
  const [open] = await findings.list();
  expect(await findings.resolve(open!.id, { by: 'ops@host', note: 'refunded at Stripe' })).toMatchObject({
    status: 'RESOLVED',
    closedBy: 'ops@host',
    note: 'refunded at Stripe',
  });
  expect(await findings.resolve(open!.id, { by: 'ops@host' })).toBeNull();
  expect(await findings.resolve(randomUUID(), { by: 'ops@host' })).toBeNull();
  expect(await findings.list()).toEqual([]);
});
