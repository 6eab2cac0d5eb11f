/**
 * The standing reconciler on the real dev server and databases: its Schedule as the worker keeps
 * it, and runs triggered by hand over a store with a planted drift — the metric the API serves,
 * the admin's notification, the finding an operator resolves with `npm run ops`, and no
 * duplicate when a drift stays.
 */
import type { ScheduleHandle } from '@temporalio/client';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { Client } from 'pg';
import { startApiHarness, type ApiHarness } from '../test/helpers/api';
import { newProduct } from '../test/helpers/checkouts';
import { expectReconcilerSchedule } from '../test/helpers/reconciler-schedule';
import { waitUntil } from '../devstack/waits';
import type { Finding } from '../services/orders/findings.service';
import { signalNotification } from '../temporal/notification-signal';
import { RECONCILER_SCHEDULE_ID, type ReconciliationResult } from '../workflows/contract';
import { ensureReconcilerSchedule } from './schedule';

jest.setTimeout(120_000);

const ROOT = path.resolve(__dirname, '..');
let api: ApiHarness;
let quotaDb: Client;
let schedule: ScheduleHandle;
let admin: { id: string };
const customer = `sched-${randomUUID().slice(0, 8)}`;

beforeAll(async () => {
  api = await startApiHarness();
  quotaDb = new Client({ connectionString: api.dbs.urls.quota });
  await quotaDb.connect();
  admin = await api.services.accounts.createAccount({
    email: `ops-${randomUUID().slice(0, 8)}@example.test`,
    password: 'a long operator password',
    role: 'admin',
  });
  // One real order, so the quota has a usage row a drift can be planted in.
  const product = await newProduct(api.services.inventory, 'SCHED', 10, 1_500);
  const placed = await api.as(customer, {
    method: 'POST',
    url: '/v1/orders',
    payload: { items: [{ productId: product.id, quantity: 1 }] },
  });
  expect(placed.statusCode).toBe(201);
  await api.settled(placed.json().id);
  schedule = api.temporal.client.schedule.getHandle(RECONCILER_SCHEDULE_ID);
});
afterAll(async () => {
  // A Schedule outlives the test file in the namespace: leave none behind to fire in the next one.
  await schedule?.delete().catch(() => undefined);
  await quotaDb?.end();
  await api?.close();
});

let lastTriggerSecond = 0;

/** Triggers the Schedule and waits for the run it started; returns what the run reported. */
async function triggerRun(): Promise<ReconciliationResult> {
  // The Schedule names each run `reconciler-<time to the second>`: a second trigger within the
  // same second would reuse the id of the run before and start nothing.
  await waitUntil('a new second for the next run id', async () => Math.floor(Date.now() / 1000) > lastTriggerSecond, {
    intervalMs: 50,
  });
  const before = new Set((await schedule.describe()).info.recentActions.map((a) => a.action.workflow.workflowId));
  lastTriggerSecond = Math.floor(Date.now() / 1000);
  // The default policy for a trigger (ALLOW_ALL): the run before has finished (its result was
  // awaited), but the Schedule may not have seen it finish yet, and SKIP would drop this one.
  await schedule.trigger();
  let started: { workflowId: string; firstExecutionRunId: string } | undefined;
  await waitUntil('the triggered reconciliation to start', async () => {
    started = (await schedule.describe()).info.recentActions
      .map((a) => a.action.workflow)
      .find((w) => !before.has(w.workflowId));
    return started !== undefined;
  });
  return api.temporal.client.workflow.getHandle(started!.workflowId, started!.firstExecutionRunId).result();
}

async function violationsMetric(): Promise<Record<string, number>> {
  // The API reads the latest run's figures on a cadence; a scrape serves the last read.
  await api.app.metrics.refresh();
  const text = (await api.app.inject({ method: 'GET', url: '/metrics' })).body;
  return Object.fromEntries(
    [...text.matchAll(/^storefront_invariant_violations\{invariant="([^"]+)"\} (\d+)$/gm)].map((m) => [
      m[1]!,
      Number(m[2]),
    ]),
  );
}

async function adminDriftNotices() {
  return (await api.services.notifications.list(admin.id, { limit: 100 })).filter((n) => n.type === 'reconciler.drift');
}

/**
 * The admin's drift notices once everything signalled to them so far is stored: the notification
 * workflow stores signals in the order they arrive, so a marker sent now is stored after any
 * notice a finished run sent. (A notice arrives after the run's result: read at once, a second
 * notice would not be there yet.)
 */
async function adminDriftNoticesSettled() {
  const marker = randomUUID();
  await signalNotification(api.temporal.client, {
    userId: admin.id,
    kind: 'NOTIFICATION',
    type: 'test.marker',
    payload: { marker },
    dedupeKey: `test-marker:${marker}`,
  });
  await waitUntil('the marker notification stored after every earlier one', async () =>
    (await api.services.notifications.list(admin.id, { limit: 100 })).some((n) => n.payload.marker === marker),
  );
  return adminDriftNotices();
}

function ops(...args: string[]) {
  const env = { ...process.env, ORDERS_DATABASE_URL: api.dbs.urls.orders };
  return spawnSync(path.join(ROOT, 'node_modules/.bin/tsx'), [path.join(ROOT, 'scripts/ops.ts'), ...args], {
    env,
    encoding: 'utf8',
  });
}

const plantQuotaDrift = (delta: number) =>
  quotaDb.query(`UPDATE "usage" SET used = used + $2 WHERE user_id = $1 AND resource = 'orders'`, [customer, delta]);

test('the Schedule runs reconcilerWorkflow at the configured interval, never two at once, and a second start updates it in place', async () => {
  expect(await ensureReconcilerSchedule(api.temporal.client, { intervalSeconds: 1_800 })).toEqual({ created: true });
  expect(await ensureReconcilerSchedule(api.temporal.client, { intervalSeconds: 3_600 })).toEqual({ created: false });
  expectReconcilerSchedule(await schedule.describe(), 3_600);
  const listed: string[] = [];
  for await (const summary of api.temporal.client.schedule.list()) listed.push(summary.scheduleId);
  expect(listed.filter((id) => id === RECONCILER_SCHEDULE_ID)).toHaveLength(1);
});

test('a clean store: the run reports no violation, the metric says 0 per invariant, no finding, nobody notified', async () => {
  const result = await triggerRun();
  expect(result).toMatchObject({ opened: 0, seenAgain: 0, gone: 0, notified: 0, skipped: ['payment-intent-matched'] });
  expect(Object.values(result.violations).every((n) => n === 0)).toBe(true);
  expect(await violationsMetric()).toEqual({
    'stock-conserved': 0,
    'one-payment': 0,
    'no-live-reservation': 0,
    'quota-matches-orders': 0,
    'order-has-workflow': 0,
    'refunds-consistent': 0,
  });
  expect(await api.services.findings.list()).toEqual([]);
  expect(await adminDriftNoticesSettled()).toEqual([]);
});

describe('a planted drift (a quota off by one)', () => {
  let finding: Finding;

  beforeAll(() => plantQuotaDrift(1));

  test('raises the metric, opens one finding and notifies the admin', async () => {
    const result = await triggerRun();
    expect(result).toMatchObject({
      opened: 1,
      notified: 1,
      violations: { 'quota-matches-orders': 1, 'stock-conserved': 0 },
    });
    expect(await violationsMetric()).toMatchObject({ 'quota-matches-orders': 1, 'stock-conserved': 0 });

    const open = await api.services.findings.list();
    expect(open).toEqual([
      expect.objectContaining({
        invariant: 'quota-matches-orders',
        status: 'OPEN',
        seenCount: 1,
        detail: expect.stringMatching(new RegExp(`${customer} orders .*: used 2 ≠ 1`)),
      }),
    ]);
    finding = open[0]!;

    await waitUntil('the admin notification', async () => (await adminDriftNotices()).length > 0);
    const [notice] = await adminDriftNotices();
    expect(notice!.payload).toMatchObject({
      openedCount: 1,
      opened: [expect.objectContaining({ findingId: finding.id, invariant: 'quota-matches-orders' })],
    });
  });

  test('a second run finds it again: the same finding, seen twice, and no second notification', async () => {
    const result = await triggerRun();
    expect(result).toMatchObject({ opened: 0, seenAgain: 1, notified: 0 });
    expect(await api.services.findings.list({ status: 'any' })).toEqual([
      expect.objectContaining({ id: finding.id, status: 'OPEN', seenCount: 2 }),
    ]);
    expect(await adminDriftNoticesSettled()).toHaveLength(1);
  });

  test('`npm run ops -- findings` lists it and `resolve-finding` closes it with the operator and the note', async () => {
    const listed = ops('findings');
    expect([listed.status, listed.stderr]).toEqual([0, '']);
    expect(listed.stdout).toContain(`${finding.id}  OPEN     quota-matches-orders`);
    expect(listed.stdout).toMatch(/\(2 runs\)/);

    const noNote = ops('resolve-finding', finding.id);
    expect(noNote.status).toBe(1);
    expect(noNote.stderr).toContain('needs --note');

    const resolved = ops('resolve-finding', finding.id, '--note', 'usage row corrected by hand');
    expect([resolved.status, resolved.stderr]).toEqual([0, '']);
    expect(await api.services.findings.get(finding.id)).toMatchObject({
      status: 'RESOLVED',
      closedBy: expect.stringMatching(/@/),
      note: 'usage row corrected by hand',
    });
    expect(ops('findings').stdout).toContain('no OPEN findings');

    const again = ops('resolve-finding', finding.id, '--note', 'twice');
    expect(again.status).toBe(1);
    expect(again.stderr).toContain(`Finding ${finding.id} is RESOLVED already`);
  });

  test('resolved while still there, it comes back as a new finding; repaired, that one is closed as GONE by the next run', async () => {
    const reopened = await triggerRun();
    expect(reopened).toMatchObject({ opened: 1 });
    const [back] = await api.services.findings.list();
    expect(back).toMatchObject({ invariant: 'quota-matches-orders', status: 'OPEN', key: finding.key });
    expect(back!.id).not.toBe(finding.id);

    await plantQuotaDrift(-1);
    const repaired = await triggerRun();
    expect(repaired).toMatchObject({ opened: 0, gone: 1, violations: { 'quota-matches-orders': 0 } });
    expect(await api.services.findings.get(back!.id)).toMatchObject({ status: 'GONE', closedBy: 'reconciler' });
    expect(await api.services.findings.get(finding.id)).toMatchObject({ status: 'RESOLVED' });
    expect(await violationsMetric()).toMatchObject({ 'quota-matches-orders': 0 });
  });
});
