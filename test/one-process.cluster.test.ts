/**
 * The one-process layout of harness/temporal-cluster.ts (what bench/benchmarks/one-process.ts
 * measures): one temporal-server process serves all four services on PostgreSQL, plaintext when
 * mTLS is turned off, and a crash of any service is the crash of the whole server.
 */
import { startTemporalCluster, type TemporalCluster } from '../harness/temporal-cluster';
import { connectClient, createClient } from '../temporal/connection';

// The first run on a machine builds the server and its schema tool from the Go module proxy (minutes; see docs/production-temporal.md).
jest.setTimeout(120_000);
const FIRST_BUILD_TIMEOUT_MS = 40 * 60_000;

let server: TemporalCluster;

beforeAll(async () => {
  server = await startTemporalCluster({
    namespace: 'storefront-one-process-test',
    layout: 'one-process',
    tuning: { mtls: false, numHistoryShards: 1, dynamicConfig: { 'matching.numTaskqueueReadPartitions': 1 } },
  });
}, FIRST_BUILD_TIMEOUT_MS);

afterAll(async () => {
  await server?.stop();
});

/** A workflow started (history) and its task queue described (matching), through the frontend; no worker needed. */
async function startAndDescribe(workflowId: string): Promise<{ status?: string; taskQueueAnswered: boolean }> {
  const connection = await connectClient(server.settings(), { connectTimeout: 5_000 });
  try {
    const client = createClient(connection, server.settings());
    const handle = await client.workflow.start('nothingRunsThis', { taskQueue: 'one-process-test', workflowId });
    const described = await handle.describe();
    const taskQueue = await connection.workflowService.describeTaskQueue({
      namespace: server.namespace,
      taskQueue: { name: 'one-process-test' },
    });
    await handle.terminate('test over');
    return { status: described.status.name, taskQueueAnswered: taskQueue !== undefined };
  } finally {
    await connection.close();
  }
}

test('one process serves frontend, history, matching and worker, in plaintext when mTLS is off', async () => {
  expect(server.pids()).toHaveLength(1);
  expect(Object.keys(server.env).filter((name) => name.startsWith('TEMPORAL_TLS'))).toEqual([]);
  expect(await startAndDescribe('one-process-first')).toEqual({ status: 'RUNNING', taskQueueAnswered: true });
});

test('killing one service kills the server; restarting it brings every service back', async () => {
  await server.kill('matching');
  expect(server.pids()).toEqual([]);
  await server.restart('matching');
  expect(server.pids()).toHaveLength(1);
  expect(await startAndDescribe('one-process-after-restart')).toEqual({ status: 'RUNNING', taskQueueAnswered: true });
});
