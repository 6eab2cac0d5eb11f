/**
 * The notification workflow on a real Temporal dev server, with a recording persistNotification.
 * Every test runs its own worker on its own task queue and its own workflow id.
 */
import { randomUUID } from 'node:crypto';
import { WorkflowContinuedAsNewError, type Client, type Connection } from '@temporalio/client';
import { bundleWorkflowCode, Worker, type NativeConnection, type WorkflowBundle } from '@temporalio/worker';
import { notifySignal, type NotifyInput } from './contract';
import { notificationWorkflow, type NotificationWorkflowArgs } from './notification.workflow';
import type { PersistNotificationResult } from '../activities/notifications.activities';
import { SILENT_LOGGER } from '../lib/logging';
import { connectClient, connectWorker, createClient, temporalSettingsFromEnv } from '../temporal/connection';

jest.setTimeout(120_000);

const namespace = process.env.TEMPORAL_NAMESPACE ?? 'default';

let bundle: WorkflowBundle;
let workerConnection: NativeConnection;
let clientConnection: Connection;
let client: Client;
const started: string[] = [];

beforeAll(async () => {
  if (!process.env.TEMPORAL_ADDRESS)
    throw new Error('TEMPORAL_ADDRESS is not set: run through Jest, whose global setup starts Temporal');
  const temporal = { ...temporalSettingsFromEnv(), namespace };
  [bundle, workerConnection, clientConnection] = await Promise.all([
    bundleWorkflowCode({ workflowsPath: require.resolve('./notification.workflow'), logger: SILENT_LOGGER }),
    connectWorker(temporal),
    connectClient(temporal),
  ]);
  client = createClient(clientConnection, temporal);
});

afterAll(async () => {
  // The workflow never ends by itself: do not leave it running on the shared server.
  await Promise.all(
    started.map((id) =>
      client?.workflow
        .getHandle(id)
        .terminate('test over')
        .catch(() => undefined),
    ),
  );
  await workerConnection?.close();
  await clientConnection?.close();
});

/** A persistNotification that records what it is asked to persist. */
class RecordingActivity {
  readonly calls: NotifyInput[] = [];
  private waiters: { dedupeKey: string; resolve: () => void }[] = [];
  private gate: Promise<void> = Promise.resolve();

  /** Holds every persist until the returned function is called. */
  hold(): () => void {
    let open = () => {};
    this.gate = new Promise((resolve) => (open = resolve));
    return open;
  }

  readonly persistNotification = async (input: NotifyInput): Promise<PersistNotificationResult> => {
    await this.gate;
    this.calls.push(input);
    this.waiters = this.waiters.filter((w) => {
      if (w.dedupeKey !== input.dedupeKey) return true;
      w.resolve();
      return false;
    });
    return { id: randomUUID(), sequence: this.calls.length, created: true };
  };

  arrival(dedupeKey: string): Promise<void> {
    if (this.calls.some((c) => c.dedupeKey === dedupeKey)) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ dedupeKey, resolve }));
  }

  keys(): string[] {
    return this.calls.map((c) => c.dedupeKey);
  }
}

interface Scenario {
  userId: string;
  workflowId: string;
  taskQueue: string;
  activity: RecordingActivity;
  /** Signal-with-start, as the activities do; returns the run that got the signal. */
  send(dedupeKey: string): Promise<string>;
}

/** Runs `body` while a worker with the real workflow bundle serves a fresh task queue. */
async function withWorker(
  settings: Omit<NotificationWorkflowArgs, 'userId' | 'activityTaskQueue'>,
  body: (s: Scenario) => Promise<void>,
) {
  const suffix = randomUUID().slice(0, 8);
  const userId = `user-${suffix}`;
  const taskQueue = `notifications-test-${suffix}`;
  const workflowId = `notifications-${userId}`;
  started.push(workflowId);
  const activity = new RecordingActivity();
  const worker = await Worker.create({
    connection: workerConnection,
    namespace,
    taskQueue,
    workflowBundle: bundle,
    activities: { persistNotification: activity.persistNotification },
  });
  const send = async (dedupeKey: string): Promise<string> => {
    const handle = await client.workflow.signalWithStart(notificationWorkflow, {
      workflowId,
      taskQueue,
      args: [{ userId, activityTaskQueue: taskQueue, ...settings }],
      signal: notifySignal,
      signalArgs: [{ userId, kind: 'NOTIFICATION', type: 'test', payload: { dedupeKey }, dedupeKey }],
    });
    return handle.signaledRunId;
  };
  await worker.runUntil(body({ userId, workflowId, taskQueue, activity, send }));
}

test('it persists each notification once, in the order sent, dropping duplicate dedupe keys', async () => {
  await withWorker({}, async ({ activity, send, userId }) => {
    for (const key of ['a', 'b', 'a', 'c', 'b', 'a']) await send(key);
    await send('done');
    await activity.arrival('done');
    expect(activity.keys()).toEqual(['a', 'b', 'c', 'done']);
    expect(activity.calls[0]).toEqual({
      userId,
      kind: 'NOTIFICATION',
      type: 'test',
      payload: { dedupeKey: 'a' },
      dedupeKey: 'a',
    });
  });
});

test('it continues as new before its history grows large and keeps dropping duplicates afterwards', async () => {
  await withWorker({ maxHistoryEvents: 25 }, async ({ activity, send, workflowId }) => {
    const firstRunId = await send('k0');
    for (let i = 1; i < 12; i++) await send(`k${i}`);
    await send('mid');
    await activity.arrival('mid');

    // The first run ends by continuing as new (this waits on the server for the run to close).
    const firstRun = client.workflow.getHandle(workflowId, firstRunId, { followRuns: false });
    await expect(firstRun.result()).rejects.toBeInstanceOf(WorkflowContinuedAsNewError);
    expect((await firstRun.describe()).status.name).toBe('CONTINUED_AS_NEW');

    // Keys persisted by earlier runs are still known to the current one.
    const duplicateRunId = await send('k0');
    expect(duplicateRunId).not.toBe(firstRunId);
    await send('k11');
    await send('end');
    await activity.arrival('end');
    expect(activity.keys()).toEqual([...Array.from({ length: 12 }, (_, i) => `k${i}`), 'mid', 'end']);
  });
});

test('it remembers only the most recent keys; older duplicates are left to the database', async () => {
  await withWorker({ maxDedupeKeys: 2 }, async ({ activity, send }) => {
    for (const key of ['x1', 'x2', 'x3', 'x3', 'x1']) await send(key);
    await send('done');
    await activity.arrival('done');
    expect(activity.keys()).toEqual(['x1', 'x2', 'x3', 'x1', 'done']);
  });
});

test('a backlog too long for one run travels, in order, into the next run', async () => {
  // 40 signals alone are more than twice 15 events: the held run has to hand over its backlog.
  await withWorker({ maxHistoryEvents: 15 }, async ({ activity, send, workflowId }) => {
    const release = activity.hold();
    const firstRunId = await send('b0');
    // 40 signals wait in the first run while its first persist is held.
    for (let i = 1; i < 40; i++) await send(`b${i}`);
    release();
    await send('b0');
    await send('last');
    await activity.arrival('last');

    const firstRun = client.workflow.getHandle(workflowId, firstRunId, { followRuns: false });
    await expect(firstRun.result()).rejects.toBeInstanceOf(WorkflowContinuedAsNewError);
    // The first run handed unpersisted signals to the next one instead of growing further.
    const history = await firstRun.fetchHistory();
    const continued = history.events?.at(-1)?.workflowExecutionContinuedAsNewEventAttributes;
    const nextInput = JSON.parse(
      Buffer.from(continued?.input?.payloads?.[0]?.data ?? []).toString(),
    ) as NotificationWorkflowArgs;
    expect(nextInput.pendingNotifications?.length).toBeGreaterThan(0);
    expect(activity.keys()).toEqual([...Array.from({ length: 40 }, (_, i) => `b${i}`), 'last']);
  });
});
