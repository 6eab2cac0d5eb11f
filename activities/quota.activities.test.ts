import { ApplicationFailure } from '@temporalio/common';
import { TypedActivityEnvironment } from '../test/helpers/activity-environment';
import { useServiceDatabase } from '../test/helpers/databases';
import { createQuotaDb } from '../services/quota/db';
import { QuotaService } from '../services/quota/quota.service';
import { TASK_QUEUES, notifySignal, type NotifyInput } from '../workflows/contract';
import type { NotificationSignaller } from '../temporal/notification-signal';
import { createQuotaActivities, type QuotaActivities } from './quota.activities';

let quota: QuotaService;
useServiceDatabase('quota', createQuotaDb, (db) => {
  quota = new QuotaService(db);
});

interface SignalWithStartCall {
  workflowType: unknown;
  options: { workflowId: string; taskQueue: string; args: unknown[]; signal: unknown; signalArgs: NotifyInput[] };
}

/** A Temporal client that only records signal-with-start calls; `failNext` makes the next one fail as an outage would. */
function fakeTemporal(): { temporal: NotificationSignaller; calls: SignalWithStartCall[]; failNext: () => void } {
  const calls: SignalWithStartCall[] = [];
  let failing = false;
  const signalWithStart = async (workflowType: unknown, options: SignalWithStartCall['options']) => {
    if (failing) {
      failing = false;
      throw new Error('UNAVAILABLE');
    }
    calls.push({ workflowType, options });
    return { workflowId: options.workflowId, signaledRunId: 'run' };
  };
  return {
    temporal: { workflow: { signalWithStart } } as unknown as NotificationSignaller,
    calls,
    failNext: () => (failing = true),
  };
}

function setup(): {
  activities: QuotaActivities;
  calls: SignalWithStartCall[];
  env: TypedActivityEnvironment;
  failNext: () => void;
} {
  const { temporal, calls, failNext } = fakeTemporal();
  return {
    activities: createQuotaActivities({ quota, temporal }),
    calls,
    env: new TypedActivityEnvironment(),
    failNext,
  };
}

test('reserveOrderQuota consumes one order per order id and signals each crossed threshold once', async () => {
  const { activities, calls, env } = setup();
  const results = [];
  for (let i = 1; i <= 20; i++)
    results.push(await env.run(activities.reserveOrderQuota, { userId: 'shopper', orderId: `o-${i}` }));
  expect(results.map((r) => r.used)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
  const period = results[0]!.period;

  expect(calls).toHaveLength(2);
  for (const call of calls) {
    expect(call.workflowType).toBe('notificationWorkflow');
    expect(call.options).toMatchObject({
      workflowId: 'notifications-shopper',
      taskQueue: TASK_QUEUES.checkout,
      args: [{ userId: 'shopper' }],
      signal: notifySignal,
    });
  }
  expect(calls.map((c) => c.options.signalArgs[0])).toEqual([
    {
      userId: 'shopper',
      kind: 'NOTIFICATION',
      type: 'quota.warning',
      payload: expect.objectContaining({
        resource: 'orders',
        period,
        threshold: 80,
        used: 16,
        limit: 20,
        enforcement: 'HARD',
      }),
      dedupeKey: `quota:orders:${period}:80`,
    },
    {
      userId: 'shopper',
      kind: 'NOTIFICATION',
      type: 'quota.exceeded',
      payload: expect.objectContaining({ resource: 'orders', period, threshold: 100, used: 20, limit: 20 }),
      dedupeKey: `quota:orders:${period}:100`,
    },
  ]);
});

test('the 21st order fails with a non-retryable QUOTA_EXCEEDED', async () => {
  const { activities, calls, env } = setup();
  await env.run(activities.recordUsage, {
    userId: 'spender',
    resource: 'orders',
    quantity: 20,
    idempotencyKey: 'bulk',
  });
  calls.length = 0;

  const failure = await env
    .run(activities.reserveOrderQuota, { userId: 'spender', orderId: 'one-too-many' })
    .catch((e: unknown) => e);
  expect(failure).toBeInstanceOf(ApplicationFailure);
  expect(failure).toMatchObject({ type: 'QUOTA_EXCEEDED', nonRetryable: true });
  expect(calls).toHaveLength(0);

  // Other business refusals are non-retryable too; they carry their own code.
  const unknown = await env
    .run(activities.recordUsage, { userId: 'spender', resource: 'rockets', quantity: 1, idempotencyKey: 'r' })
    .catch((e: unknown) => e);
  expect(unknown).toMatchObject({ type: 'UNKNOWN_RESOURCE', nonRetryable: true });
});

test('a retried activity answers its first outcome and signals nothing again', async () => {
  const { activities, calls, env } = setup();
  const input = { userId: 'flaky', resource: 'builds', quantity: 85, idempotencyKey: 'build-1' };
  const first = await env.run(activities.recordUsage, input);
  await env.run(activities.recordUsage, { ...input, quantity: 5, idempotencyKey: 'build-later' });
  const retry = await env.run(activities.recordUsage, input);
  expect(first).toMatchObject({ used: 85, crossed: [80], replayed: false });
  expect(retry).toMatchObject({ used: 85, crossed: [], replayed: true });
  expect((await quota.getQuota('flaky')).resources.find((r) => r.resource === 'builds')?.used).toBe(90);
  expect(calls).toHaveLength(1);
  expect(calls[0]!.options.signalArgs[0]?.dedupeKey).toBe(`quota:builds:${first.period}:80`);

  // Events that cross nothing signal nothing.
  await env.run(activities.recordUsage, { ...input, quantity: 1, idempotencyKey: 'build-2' });
  expect(calls).toHaveLength(1);
});

test('a retry after a failed signal signals the crossing it could not', async () => {
  const { activities, calls, env, failNext } = setup();
  const input = { userId: 'cut-off', resource: 'builds', quantity: 85, idempotencyKey: 'build-1' };
  failNext();
  await expect(env.run(activities.recordUsage, input)).rejects.toThrow();
  const retry = await env.run(activities.recordUsage, input);
  expect(retry).toMatchObject({ used: 85, crossed: [80], replayed: true });
  expect(calls).toHaveLength(1);
  // Delivered now: a further replay signals nothing.
  await env.run(activities.recordUsage, input);
  expect(calls).toHaveLength(1);
});

test('a Date given to recordUsage through Temporal arrives as a string and still picks the period', async () => {
  const { activities, env } = setup();
  const at = '2026-03-10T10:00:00.000Z' as unknown as Date;
  const result = await env.run(activities.recordUsage, {
    userId: 'historian',
    resource: 'builds',
    quantity: 1,
    idempotencyKey: 'h',
    at,
  });
  expect(result.period).toBe('2026-03');
});

test('releaseOrderQuota gives the order back once and is a no-op otherwise', async () => {
  const { activities, env } = setup();
  await env.run(activities.reserveOrderQuota, { userId: 'canceller', orderId: 'o-1' });
  expect(await env.run(activities.releaseOrderQuota, { userId: 'canceller', orderId: 'o-1' })).toEqual({
    released: true,
  });
  expect(await env.run(activities.releaseOrderQuota, { userId: 'canceller', orderId: 'o-1' })).toEqual({
    released: false,
  });
  expect(await env.run(activities.releaseOrderQuota, { userId: 'canceller', orderId: 'never-reserved' })).toEqual({
    released: false,
  });
  expect((await quota.getQuota('canceller')).resources.find((r) => r.resource === 'orders')?.used).toBe(0);
});
