/** Workers and clients for workflow tests, in the namespace of this Jest worker (see stack.ts). */
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, Runtime, Worker, type WorkflowBundle } from '@temporalio/worker';
import path from 'node:path';
import { TASK_QUEUES } from '../../workflows/contract';
import type { WorkerQueue } from '../../lib/workers';
import { TEST_NAMESPACE_COUNT } from './stack';
import { SILENT_LOGGER } from '../../lib/logging';

let runtimeQuiet = false;
let bundle: Promise<WorkflowBundle> | undefined;
/** Set once per test file (Jest gives each file its own module registry). */
let namespaceSwept: Promise<void> | undefined;

/** The workflow code, bundled once per test file. */
export function workflowBundle(): Promise<WorkflowBundle> {
  bundle ??= bundleWorkflowCode({ workflowsPath: path.resolve(__dirname, '../../workflows'), logger: SILENT_LOGGER });
  return bundle;
}


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
    Runtime.install({ logger: SILENT_LOGGER, shutdownSignals: [] });
    runtimeQuiet = true;
  }
  const address = process.env.TEMPORAL_ADDRESS;
  if (!address) throw new Error('TEMPORAL_ADDRESS is not set: run the tests through Jest, whose global setup starts Temporal');
  const namespace = testNamespace();
  const connection = await NativeConnection.connect({ address });
  const clientConnection = await Connection.connect({ address });
  const client = new Client({ connection: clientConnection, namespace });
  namespaceSwept ??= terminateOpenWorkflows(client);
  await namespaceSwept;
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

/**
 * Test files that run one after another in a Jest worker share its namespace and the task queue
 * names. A workflow an earlier file left open (an order still waiting for payment, a user's
 * notification workflow) would otherwise be run by this file's workers against this file's
 * databases: a status notification for a stranger's order appearing here, say. So the first
 * connection of each file terminates whatever is still open in the namespace.
 */
async function terminateOpenWorkflows(client: Client): Promise<void> {
  for (let round = 0; round < 10; round++) {
    const open: { workflowId: string; runId: string }[] = [];
    for await (const execution of client.workflow.list({ query: 'ExecutionStatus = "Running"' })) open.push(execution);
    if (open.length === 0) return;
    await Promise.all(
      open.map(({ workflowId, runId }) =>
        client.workflow
          .getHandle(workflowId, runId)
          .terminate('left open by an earlier test file')
          .catch((error: unknown) => {
            if (!(error instanceof WorkflowNotFoundError)) throw error;
          }),
      ),
    );
  }
  throw new Error('workflows left by earlier test files kept appearing in the namespace');
}
