/**
 * Usage and quota through the API: once per key, soft limits past the limit, hard limits under
 * concurrency, threshold notifications once per period (through the real notification
 * workflow), and a recording whose notification could not be sent healed by a retry.
 */
import { ServiceError } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { signalNotification } from '../../temporal/notification-signal';
import { buildAppBeside } from '../../test/helpers/api';
import { startLiveApis, type LiveApis, type LiveInstance } from '../../test/helpers/live-api';
import { waitUntil } from '../../devstack/waits';
import type { Notification } from '../../services/notifications/notifications.service';

jest.setTimeout(90_000);

let live: LiveApis;
let api: LiveInstance;
beforeAll(async () => {
  live = await startLiveApis();
  api = live.instances[0]!;
});
afterAll(async () => live?.close());

const user = () => `u-${randomUUID().slice(0, 8)}`;

function record(userId: string, resource: string, quantity: number, idempotencyKey: string = randomUUID()) {
  return api.app.inject({
    method: 'POST',
    url: '/v1/usage',
    headers: { authorization: `Bearer ${live.token(userId)}` },
    payload: { resource, quantity, idempotencyKey },
  });
}

/**
 * Waits until the user's notification workflow has handled every signal sent before: a sentinel
 * signalled after them is persisted only after them (signals are handled in order).
 */
async function settledNotifications(userId: string) {
  const sentinel = `sentinel:${randomUUID()}`;
  await signalNotification(live.temporal.client, {
    userId,
    kind: 'NOTIFICATION',
    type: 'test.sentinel',
    payload: {},
    dedupeKey: sentinel,
  });
  let all: Notification[] = [];
  await waitUntil(
    `the notification workflow of ${userId} to persist its sentinel`,
    async () =>
      (all = await live.workerServices.notifications.list(userId, { limit: 500 })).some(
        (n) => n.dedupeKey === sentinel,
      ),
    { timeoutMs: 20_000, intervalMs: 50 },
  );
  return all.filter((n) => n.dedupeKey !== sentinel).reverse();
}

describe('POST /v1/usage', () => {
  it('counts a key once and reports the standing; GET /v1/quota shows plan, period and every resource', async () => {
    const alice = user();
    const first = await record(alice, 'builds', 5, 'build-1');
    expect(first.statusCode).toBe(200);
    const period = first.json().period;
    expect(period).toMatch(/^\d{4}-\d{2}$/);
    expect(first.json()).toEqual({
      resource: 'builds',
      used: 5,
      limit: 100,
      overLimit: false,
      period,
      enforcement: 'SOFT',
      replayed: false,
    });

    const again = await record(alice, 'builds', 5, 'build-1');
    expect(again.statusCode).toBe(200);
    expect(again.json()).toMatchObject({ used: 5, replayed: true });

    const quota = await api.app.inject({
      method: 'GET',
      url: '/v1/quota',
      headers: { authorization: `Bearer ${live.token(alice)}` },
    });
    expect(quota.statusCode).toBe(200);
    const [year, month] = period.split('-').map(Number);
    expect(quota.json()).toEqual({
      plan: 'free',
      period,
      resetsAt: new Date(Date.UTC(year, month, 1)).toISOString(),
      resources: [
        { resource: 'builds', used: 5, limit: 100, enforcement: 'SOFT', overLimit: false },
        { resource: 'orders', used: 0, limit: 20, enforcement: 'HARD', overLimit: false },
      ],
    });
  });

  it('records past a soft limit and says so: 130 of 100 builds is over the limit', async () => {
    const carol = user();
    expect((await record(carol, 'builds', 100)).json()).toMatchObject({ used: 100, overLimit: false });
    const over = await record(carol, 'builds', 30);
    expect(over.statusCode).toBe(200);
    expect(over.json()).toMatchObject({ used: 130, limit: 100, overLimit: true });
    const quota = await api.app.inject({
      method: 'GET',
      url: '/v1/quota',
      headers: { authorization: `Bearer ${live.token(carol)}` },
    });
    expect(quota.json().resources).toContainEqual({
      resource: 'builds',
      used: 130,
      limit: 100,
      enforcement: 'SOFT',
      overLimit: true,
    });
  });

  it('never exceeds a hard limit under concurrent requests (429 QUOTA_EXCEEDED, counted in metrics)', async () => {
    const dave = user();
    const rejectedBefore =
      (await api.app.metrics.quotaRejections.get()).values.find((v) => v.labels.resource === 'orders')?.value ?? 0;
    const responses = await Promise.all(Array.from({ length: 30 }, (_, i) => record(dave, 'orders', 1, `o-${i}`)));
    const statuses = responses.map((r) => r.statusCode);
    expect(statuses.filter((s) => s === 200)).toHaveLength(20);
    expect(statuses.filter((s) => s === 429)).toHaveLength(10);
    for (const refused of responses.filter((r) => r.statusCode === 429))
      expect(refused.json().error.code).toBe('QUOTA_EXCEEDED');
    expect(
      responses
        .filter((r) => r.statusCode === 200)
        .map((r) => r.json().used)
        .sort((a, b) => a - b),
    ).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    expect((await live.workerServices.quota.getQuota(dave)).resources.find((r) => r.resource === 'orders')!.used).toBe(
      20,
    );
    const rejectedAfter =
      (await api.app.metrics.quotaRejections.get()).values.find((v) => v.labels.resource === 'orders')?.value ?? 0;
    expect(rejectedAfter - rejectedBefore).toBe(10);
  });

  it('never counts one key twice under concurrent requests', async () => {
    const erin = user();
    const responses = await Promise.all(Array.from({ length: 20 }, () => record(erin, 'builds', 7, 'same-build')));
    expect(responses.map((r) => r.statusCode)).toEqual(Array(20).fill(200));
    expect(responses.filter((r) => !r.json().replayed)).toHaveLength(1);
    expect(responses.map((r) => r.json().used)).toEqual(Array(20).fill(7));
    expect((await live.workerServices.quota.getQuota(erin)).resources.find((r) => r.resource === 'builds')!.used).toBe(
      7,
    );
  });

  it('refuses bad input with 400 and no token with 401', async () => {
    const frank = user();
    const unknown = await record(frank, 'deploys', 1);
    expect([unknown.statusCode, unknown.json().error.code]).toEqual([400, 'UNKNOWN_RESOURCE']);
    for (const quantity of [0, -1, 1.5, 10_001]) {
      const bad = await record(frank, 'builds', quantity);
      expect([bad.statusCode, bad.json().error.code]).toEqual([400, 'VALIDATION_FAILED']);
    }
    const reserved = await record(frank, 'orders', 1, 'order:1234');
    expect([reserved.statusCode, reserved.json().error.code]).toEqual([400, 'VALIDATION_FAILED']);
    const extra = await api.app.inject({
      method: 'POST',
      url: '/v1/usage',
      headers: { authorization: `Bearer ${live.token(frank)}` },
      payload: { resource: 'builds', quantity: 1, idempotencyKey: 'k', userId: 'someone-else' },
    });
    expect(extra.statusCode).toBe(400);
    const anonymous = await api.app.inject({
      method: 'POST',
      url: '/v1/usage',
      payload: { resource: 'builds', quantity: 1, idempotencyKey: 'k' },
    });
    expect(anonymous.statusCode).toBe(401);
    expect((await live.workerServices.quota.getQuota(frank)).resources.every((r) => r.used === 0)).toBe(true);
  });
});

describe('threshold notifications', () => {
  it('tells the user once per threshold per period, however the usage arrives', async () => {
    const gina = user();
    // Concurrent uses that together cross 80 % and 100 %, then replays of every key, then more use.
    const keys = Array.from({ length: 12 }, (_, i) => `build-${i}`);
    const first = await Promise.all(keys.map((key) => record(gina, 'builds', 10, key)));
    expect(first.map((r) => r.statusCode)).toEqual(Array(12).fill(200));
    const replays = await Promise.all(keys.map((key) => record(gina, 'builds', 10, key)));
    expect(replays.every((r) => r.json().replayed)).toBe(true);
    expect((await record(gina, 'builds', 5)).json()).toMatchObject({ used: 125, overLimit: true });

    const told = await settledNotifications(gina);
    const period = first[0]!.json().period;
    // Lists show the newest first; what matters is one notice per threshold, compared in threshold order.
    const byThreshold = [...told].sort((a, b) => Number(a.payload.threshold) - Number(b.payload.threshold));
    expect(byThreshold.map((n) => [n.type, n.dedupeKey, n.payload.threshold])).toEqual([
      ['quota.warning', `quota:builds:${period}:80`, 80],
      ['quota.exceeded', `quota:builds:${period}:100`, 100],
    ]);
    expect(told[1]!.payload).toMatchObject({ resource: 'builds', limit: 100, enforcement: 'SOFT' });
    expect(String(told[1]!.payload.message)).toMatch(/over your plan/);
  });

  it('answers 503 when the notification could not be sent, and a retry with the same key delivers it once', async () => {
    const hank = user();
    const down = {
      workflow: {
        signalWithStart: async () => {
          throw new ServiceError('Failed to signalWithStart Workflow: UNAVAILABLE');
        },
      },
    };
    const cut = await buildAppBeside({ services: api.services, temporal: live.temporal }, { notifier: down as never });
    try {
      const failed = await cut.inject({
        method: 'POST',
        url: '/v1/usage',
        headers: { authorization: `Bearer ${live.token(hank)}` },
        payload: { resource: 'builds', quantity: 85, idempotencyKey: 'big-build' },
      });
      expect([failed.statusCode, failed.json().error.code]).toEqual([503, 'TEMPORAL_UNAVAILABLE']);
    } finally {
      await cut.close();
    }
    // Recorded, but nobody was told yet.
    expect((await live.workerServices.quota.getQuota(hank)).resources.find((r) => r.resource === 'builds')!.used).toBe(
      85,
    );

    const retried = await record(hank, 'builds', 85, 'big-build');
    expect(retried.json()).toMatchObject({ used: 85, replayed: true });
    await record(hank, 'builds', 85, 'big-build');
    const told = await settledNotifications(hank);
    expect(told.map((n) => n.type)).toEqual(['quota.warning']);
  });
});
