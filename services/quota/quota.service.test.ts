import { behindAnUncommittedWrite } from '../../test/helpers/lock-waits';
import { useServiceDatabase } from '../../test/helpers/databases';
import { errorOf } from '../../test/helpers/rejections';
import { createQuotaDb, type QuotaDb } from './db';
import { QuotaError, QuotaService, periodOf, type RecordUsageResult } from './quota.service';

// Races of dozens of transactions queue for a pool of a few connections: seconds on a busy 2-core machine.
jest.setTimeout(30_000);

let db: QuotaDb;
let quota: QuotaService;
const database = useServiceDatabase('quota', createQuotaDb, (opened) => {
  db = opened;
  quota = new QuotaService(opened);
});

const NOVEMBER = new Date('2026-11-15T12:00:00Z');
const DECEMBER = new Date('2026-12-01T00:00:00Z');

test('periodOf is the UTC calendar month', () => {
  expect(periodOf(new Date('2026-11-30T23:59:59.999Z'))).toBe('2026-11');
  expect(periodOf(new Date('2026-12-01T00:00:00Z'))).toBe('2026-12');
  expect(periodOf(new Date('2027-01-01T00:30:00+01:00'))).toBe('2026-12');
});

test('a user without a subscription gets the free plan, created on first use', async () => {
  expect(await quota.getQuota('newcomer', NOVEMBER)).toEqual({
    userId: 'newcomer',
    plan: 'free',
    period: '2026-11',
    resources: [
      { resource: 'builds', used: 0, limit: 100, enforcement: 'SOFT', overLimit: false },
      { resource: 'orders', used: 0, limit: 20, enforcement: 'HARD', overLimit: false },
    ],
  });
  expect(await db.subscription.findUnique({ where: { userId: 'newcomer' } })).toBeNull();

  await quota.recordUsage({ userId: 'newcomer', resource: 'builds', quantity: 3, idempotencyKey: 'b1', at: NOVEMBER });
  expect((await db.subscription.findUniqueOrThrow({ where: { userId: 'newcomer' } })).planId).toBe('free');
  expect((await quota.getQuota('newcomer', NOVEMBER)).resources[0]).toMatchObject({ resource: 'builds', used: 3 });
});

test('a pro subscriber gets the pro limits', async () => {
  await db.subscription.create({ data: { userId: 'pro-user', planId: 'pro' } });
  const outcome = await quota.recordUsage({
    userId: 'pro-user',
    resource: 'orders',
    quantity: 21,
    idempotencyKey: 'o1',
    at: NOVEMBER,
  });
  expect(outcome).toMatchObject({ used: 21, limit: 500, enforcement: 'HARD', overLimit: false, crossed: [] });
  expect((await quota.getQuota('pro-user', NOVEMBER)).plan).toBe('pro');
});

test('50 concurrent orders against the hard limit of 20: exactly 20 succeed, the rest are refused', async () => {
  const attempts = Array.from({ length: 50 }, (_, i) =>
    quota.recordUsage({ userId: 'rush', resource: 'orders', quantity: 1, idempotencyKey: `order:${i}`, at: NOVEMBER }),
  );
  const settled = await Promise.allSettled(attempts);
  const fulfilled = settled.filter((s): s is PromiseFulfilledResult<RecordUsageResult> => s.status === 'fulfilled');
  const rejected = settled.filter((s): s is PromiseRejectedResult => s.status === 'rejected');

  expect(fulfilled).toHaveLength(20);
  expect(rejected).toHaveLength(30);
  for (const r of rejected) {
    expect(r.reason).toBeInstanceOf(QuotaError);
    expect(r.reason.code).toBe('QUOTA_EXCEEDED');
  }
  // Each success saw a distinct count: the uses were serialized, none was lost.
  expect(fulfilled.map((f) => f.value.used).sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
  // The 80 % and 100 % crossings were each reported by exactly one of them.
  expect(fulfilled.flatMap((f) => f.value.crossed).sort()).toEqual([100, 80]);

  const orders = (await quota.getQuota('rush', NOVEMBER)).resources.find((r) => r.resource === 'orders');
  expect(orders).toMatchObject({ used: 20, limit: 20, overLimit: false });
  // A refused key was never consumed: only the 20 successes are recorded.
  expect(await db.usageEvent.count({ where: { userId: 'rush' } })).toBe(20);
});

test('a refused key is not consumed: it may succeed once units are given back', async () => {
  const user = 'refused-then-ok';
  await quota.recordUsage({ userId: user, resource: 'orders', quantity: 20, idempotencyKey: 'bulk', at: NOVEMBER });
  const refused = await errorOf(
    QuotaError,
    quota.recordUsage({ userId: user, resource: 'orders', quantity: 1, idempotencyKey: 'late', at: NOVEMBER }),
  );
  expect(refused.code).toBe('QUOTA_EXCEEDED');
  expect(refused.details).toMatchObject({ resource: 'orders', used: 20, limit: 20, period: '2026-11', requested: 1 });

  await quota.releaseUsage({ userId: user, idempotencyKey: 'bulk' });
  const later = await quota.recordUsage({
    userId: user,
    resource: 'orders',
    quantity: 1,
    idempotencyKey: 'late',
    at: NOVEMBER,
  });
  expect(later).toMatchObject({ used: 1, replayed: false });
});

test('the same idempotency key sent 10 times concurrently counts once', async () => {
  const results = await Promise.all(
    Array.from({ length: 10 }, () =>
      quota.recordUsage({
        userId: 'retrier',
        resource: 'builds',
        quantity: 5,
        idempotencyKey: 'build-42',
        at: NOVEMBER,
      }),
    ),
  );
  expect(results.filter((r) => !r.replayed)).toHaveLength(1);
  for (const r of results) expect(r).toMatchObject({ resource: 'builds', used: 5, limit: 100, period: '2026-11' });
  expect(await db.usageEvent.count({ where: { userId: 'retrier' } })).toBe(1);
  expect((await quota.getQuota('retrier', NOVEMBER)).resources[0]).toMatchObject({ resource: 'builds', used: 5 });
});

test('a soft limit records past the limit (130 of 100) and reports the user over it; 80 and 100 are reported once', async () => {
  const outcomes: RecordUsageResult[] = [];
  for (let i = 1; i <= 13; i++) {
    outcomes.push(
      await quota.recordUsage({
        userId: 'builder',
        resource: 'builds',
        quantity: 10,
        idempotencyKey: `build-${i}`,
        at: NOVEMBER,
      }),
    );
  }
  expect(outcomes.map((o) => o.used)).toEqual([10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120, 130]);
  expect(outcomes.map((o) => o.crossed)).toEqual([[], [], [], [], [], [], [], [80], [], [100], [], [], []]);
  expect(outcomes.map((o) => o.overLimit)).toEqual([...Array(10).fill(false), true, true, true]);
  expect(outcomes[12]).toEqual({
    resource: 'builds',
    used: 130,
    limit: 100,
    overLimit: true,
    period: '2026-11',
    enforcement: 'SOFT',
    crossed: [],
    replayed: false,
  });
  expect(await db.thresholdCrossing.count({ where: { userId: 'builder' } })).toBe(2);

  // A new period starts from zero and reports its own crossings.
  const december = await quota.recordUsage({
    userId: 'builder',
    resource: 'builds',
    quantity: 85,
    idempotencyKey: 'dec-1',
    at: DECEMBER,
  });
  expect(december).toMatchObject({ used: 85, period: '2026-12', crossed: [80] });
});

test('one event that jumps over both thresholds reports both', async () => {
  const outcome = await quota.recordUsage({
    userId: 'jumper',
    resource: 'orders',
    quantity: 20,
    idempotencyKey: 'all',
    at: NOVEMBER,
  });
  expect(outcome).toMatchObject({ used: 20, limit: 20, overLimit: false, crossed: [80, 100] });
});

test('a threshold crossed again after units were given back is not reported twice in a period', async () => {
  const user = 'oscillating';
  expect(
    (await quota.recordUsage({ userId: user, resource: 'orders', quantity: 16, idempotencyKey: 'a', at: NOVEMBER }))
      .crossed,
  ).toEqual([80]);
  await quota.releaseUsage({ userId: user, idempotencyKey: 'a' });
  expect(
    (await quota.recordUsage({ userId: user, resource: 'orders', quantity: 16, idempotencyKey: 'b', at: NOVEMBER }))
      .crossed,
  ).toEqual([]);
});

test('a replay answers the first outcome; its crossings are listed again only until they were notified', async () => {
  const first = await quota.recordUsage({
    userId: 'replayer',
    resource: 'builds',
    quantity: 80,
    idempotencyKey: 'k',
    at: NOVEMBER,
  });
  expect(first).toMatchObject({ used: 80, crossed: [80], replayed: false });
  // The caller stopped before notifying: a replay hands it the crossing again.
  const again = await quota.recordUsage({
    userId: 'replayer',
    resource: 'builds',
    quantity: 80,
    idempotencyKey: 'k',
    at: NOVEMBER,
  });
  expect(again).toEqual({ ...first, replayed: true });
  await quota.markNotified('replayer', 'k');
  // Later use changes the standing, not what the key answers; and once notified a replay lists nothing to notify.
  await quota.recordUsage({
    userId: 'replayer',
    resource: 'builds',
    quantity: 15,
    idempotencyKey: 'later',
    at: NOVEMBER,
  });
  const notified = await quota.recordUsage({
    userId: 'replayer',
    resource: 'builds',
    quantity: 80,
    idempotencyKey: 'k',
    at: NOVEMBER,
  });
  expect(notified).toEqual({ ...first, crossed: [], replayed: true });

  // An event that crossed nothing replays with nothing to report.
  const quiet = await quota.recordUsage({
    userId: 'replayer',
    resource: 'builds',
    quantity: 1,
    idempotencyKey: 'q',
    at: NOVEMBER,
  });
  expect(quiet.crossed).toEqual([]);
  expect(
    await quota.recordUsage({ userId: 'replayer', resource: 'builds', quantity: 1, idempotencyKey: 'q', at: NOVEMBER }),
  ).toEqual({ ...quiet, replayed: true });
});

test('release gives the units back, once; unknown keys are a no-op', async () => {
  const user = 'releaser';
  await quota.recordUsage({ userId: user, resource: 'orders', quantity: 1, idempotencyKey: 'order:1', at: NOVEMBER });
  await quota.recordUsage({ userId: user, resource: 'orders', quantity: 1, idempotencyKey: 'order:2', at: NOVEMBER });

  expect(await quota.releaseUsage({ userId: user, idempotencyKey: 'order:1' })).toEqual({
    released: true,
    resource: 'orders',
    period: '2026-11',
    quantity: 1,
    used: 1,
  });
  expect(await quota.releaseUsage({ userId: user, idempotencyKey: 'order:1' })).toEqual({ released: false });
  expect(await quota.releaseUsage({ userId: user, idempotencyKey: 'never-recorded' })).toEqual({ released: false });
  expect(await quota.releaseUsage({ userId: 'nobody', idempotencyKey: 'order:2' })).toEqual({ released: false });

  // Concurrent releases of one event give it back once.
  const concurrent = await Promise.all(
    Array.from({ length: 5 }, () => quota.releaseUsage({ userId: user, idempotencyKey: 'order:2' })),
  );
  expect(concurrent.filter((r) => r.released)).toHaveLength(1);
  expect((await quota.getQuota(user, NOVEMBER)).resources.find((r) => r.resource === 'orders')?.used).toBe(0);

  // A late retry of a released event does not count it again.
  const late = await quota.recordUsage({
    userId: user,
    resource: 'orders',
    quantity: 1,
    idempotencyKey: 'order:1',
    at: NOVEMBER,
  });
  // It answers what it first answered, with nothing to notify.
  expect(late).toMatchObject({ used: 1, replayed: true, crossed: [] });
});

test('a release that waited for a concurrent use of the same resource keeps that use counted', async () => {
  const user = 'releases-while-ordering';
  await quota.recordUsage({ userId: user, resource: 'orders', quantity: 1, idempotencyKey: 'order:1', at: NOVEMBER });
  // Another order's use holds the usage row when the release starts (its snapshot still says 1 used).
  const released = await behindAnUncommittedWrite(
    database.url,
    (other) => other.query(`UPDATE "usage" SET used = used + 1 WHERE user_id = $1 AND resource = 'orders'`, [user]),
    () => quota.releaseUsage({ userId: user, idempotencyKey: 'order:1' }),
  );
  expect(released).toMatchObject({ released: true, used: 1 });
  expect((await quota.getQuota(user, NOVEMBER)).resources.find((r) => r.resource === 'orders')?.used).toBe(1);
});

test('unknown resources and bad quantities are refused with their codes', async () => {
  expect(
    (
      await errorOf(
        QuotaError,
        quota.recordUsage({ userId: 'u', resource: 'teleports', quantity: 1, idempotencyKey: 'x' }),
      )
    ).code,
  ).toBe('UNKNOWN_RESOURCE');
  for (const quantity of [0, -1, 1.5]) {
    expect(
      (await errorOf(QuotaError, quota.recordUsage({ userId: 'u', resource: 'builds', quantity, idempotencyKey: 'x' })))
        .code,
    ).toBe('INVALID_QUANTITY');
  }
});
