/** Workers and clients for workflow tests, in the namespace of this Jest worker (see stack.ts). */
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, Runtime, Worker, type WorkflowBundle } from '@temporalio/worker';
import path from 'node:path';
import { TASK_QUEUES } from '../../workflows/contract';
import type { WorkerQueue } from '../../lib/workers';
import { TEST_NAMESPACE_COUNT } from './stack';

let runtimeQuiet = false;
let bundle: Promise<WorkflowBundle> | undefined;

/** The workflow code, bundled once per test file. */
export function workflowBundle(): Promise<WorkflowBundle> {
  bundle ??= bundleWorkflowCode({ workflowsPath: path.resolve(__dirname, '../../workflows'), logger: quietLogger });
  return bundle;
}

const quietLogger = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error() {} };

export function testNamespace(): string {
  const worker = Number(process.env.JEST_WORKER_ID ?? '1');
  return `test-${((worker - 1) % TEST_NAMESPACE_COUNT) + 1}`;
}

export interface TestTemporal {
  namespace: string;
  client: Client;
  connection: NativeConnection;
  /** Starts workers for the given queues; `checkout` runs the real workflow bundle. */
  startWorkers(activitiesByQueue: Partial<Record<WorkerQueue, object>>, options?: { checkout?: boolean }): Promise<RunningWorkers>;
  close(): Promise<void>;
}

export interface RunningWorkers {
  stop(): Promise<void>;
}

export async function connectTestTemporal(): Promise<TestTemporal> {
  if (!runtimeQuiet) {
    Runtime.install({ logger: quietLogger as never, shutdownSignals: [] });
    runtimeQuiet = true;
  }
  const address = process.env.TEMPORAL_ADDRESS;
  if (!address) throw new Error('TEMPORAL_ADDRESS is not set: run the tests through Jest, whose global setup starts Temporal');
  const namespace = testNamespace();
  const connection = await NativeConnection.connect({ address });
  const clientConnection = await Connection.connect({ address });
  const client = new Client({ connection: clientConnection, namespace });
  const running: RunningWorkers[] = [];

  async function startWorkers(activitiesByQueue: Partial<Record<WorkerQueue, object>>, options: { checkout?: boolean } = {}): Promise<RunningWorkers> {
    const workers: Worker[] = [];
    if (options.checkout ?? true) {
      workers.push(await Worker.create({ connection, namespace, taskQueue: TASK_QUEUES.checkout, workflowBundle: await workflowBundle() }));
    }
    for (const [queue, activities] of Object.entries(activitiesByQueue)) {
      if (queue === 'checkout') continue;
      workers.push(await Worker.create({ connection, namespace, taskQueue: TASK_QUEUES[queue as WorkerQueue], activities }));
    }
    const runs = workers.map((worker) => worker.run());
    const handle: RunningWorkers = {
      async stop() {
        for (const worker of workers) if (worker.getState() === 'RUNNING') worker.shutdown();
        await Promise.allSettled(runs);
      },
    };
    running.push(handle);
    return handle;
  }

  return {
    namespace,
    client,
    connection,
    startWorkers,
    async close() {
      await Promise.all(running.map((workers) => workers.stop()));
      await clientConnection.close();
      await connection.close();
    },
  };
}
