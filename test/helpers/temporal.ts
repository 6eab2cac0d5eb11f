/** Workers and clients for workflow tests, in the namespace of this Jest worker (see stack.ts). */
import { ScheduleNotFoundError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import { bundleWorkflowCode, NativeConnection, Runtime, Worker, type WorkflowBundle } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { prepareNamespace } from '../../ops/orders';
import { TASK_QUEUES } from '../../workflows/contract';
import { sharedWorkerOptions, type WorkerQueue } from '../../worker/workers';
import {
  connectClient,
  connectWorker,
  createClient,
  temporalSettingsFromEnv,
  type TemporalSettings,
} from '../../temporal/connection';
import { WORKFLOW_TRACING_MODULE, type Tracing } from '../../temporal/tracing';
import { TEST_NAMESPACE_COUNT } from '../../harness/test-infrastructure';
import { SILENT_LOGGER } from '../../lib/logging';

let runtimeQuiet = false;
/** Set by the global setup: the workflow code bundled once for the whole run (see bundleWorkflowsOnce). */
const BUNDLE_ENV = { plain: 'TEST_WORKFLOW_BUNDLE', traced: 'TEST_WORKFLOW_BUNDLE_TRACED' } as const;
/** Set once per test file (Jest gives each file its own module registry). */
let namespaceSwept: Promise<void> | undefined;

/** The workflow code, with the workflow-side tracing interceptors or without. */
function bundleWorkflows(tracing: boolean): Promise<WorkflowBundle> {
  const workflowsPath = path.resolve(__dirname, '../../workflows');
  return bundleWorkflowCode({
    workflowsPath,
    ...(tracing ? { workflowInterceptorModules: [WORKFLOW_TRACING_MODULE] } : {}),
    logger: SILENT_LOGGER,
  });
}

/**
 * In the global setup: bundles the workflows once for every test file of the run (a few seconds
 * of CPU each time otherwise), plain and with tracing, into `dir`.
 */
export async function bundleWorkflowsOnce(dir: string): Promise<Record<string, string>> {
  const env: Record<string, string> = {};
  await Promise.all(
    (Object.keys(BUNDLE_ENV) as (keyof typeof BUNDLE_ENV)[]).map(async (kind) => {
      const file = path.join(dir, `workflows-${kind}.js`);
      writeFileSync(file, (await bundleWorkflows(kind === 'traced')).code);
      env[BUNDLE_ENV[kind]] = file;
    }),
  );
  return env;
}

/** The run's workflow bundle; with tracing, the one with the workflow-side tracing interceptors. */
export function workflowBundle(options: { tracing?: boolean } = {}): { codePath: string } {
  const name = BUNDLE_ENV[options.tracing ? 'traced' : 'plain'];
  const codePath = process.env[name];
  if (!codePath)
    throw new Error(`${name} is not set: run tests through Jest, whose global setup bundles the workflows`);
  return { codePath };
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
  startWorkers(
    activitiesByQueue: Partial<Record<WorkerQueue, object>>,
    options?: { checkout?: boolean },
  ): Promise<RunningWorkers>;
  close(): Promise<void>;
}

export interface RunningWorkers {
  stop(): Promise<void>;
}

export interface TestTemporalOptions {
  /** Another Temporal than the run's dev server (the cluster tier); its namespace is used as given. */
  settings?: TemporalSettings;
  /** Spans for the client and the workers (and the traced workflow bundle). */
  tracing?: Tracing;
}

/**
 * A namespace of the caller's own on the run's dev server (created with the order search
 * attributes), for a test file whose checks span the whole namespace: a current or ramping worker
 * version routes every order of it, and replay-check counts every history that closed lately,
 * which earlier files' orders, ending as the file runs, would change.
 */
export async function namespaceOfItsOwn(prefix: string): Promise<TemporalSettings> {
  const settings = { ...temporalSettingsFromEnv(), namespace: `${prefix}-${randomUUID().slice(0, 8)}` };
  const connection = await connectClient(settings);
  try {
    await prepareNamespace(connection, settings.namespace, { retentionDays: 1 });
  } finally {
    await connection.close();
  }
  return settings;
}

export async function connectTestTemporal(options: TestTemporalOptions = {}): Promise<TestTemporal> {
  if (!runtimeQuiet) {
    Runtime.install({ logger: SILENT_LOGGER, shutdownSignals: [] });
    runtimeQuiet = true;
  }
  if (!options.settings && !process.env.TEMPORAL_ADDRESS)
    throw new Error('TEMPORAL_ADDRESS is not set: run the tests through Jest, whose global setup starts Temporal');
  const settings = options.settings ?? { ...temporalSettingsFromEnv(), namespace: testNamespace() };
  const { namespace } = settings;
  const { tracing } = options;
  const connection = await connectWorker(settings);
  const clientConnection = await connectClient(settings);
  const client = createClient(clientConnection, settings, tracing ? { interceptors: tracing.clientInterceptors } : {});
  const shared = sharedWorkerOptions({ dataConverter: settings.dataConverter, tracing });
  namespaceSwept ??= deleteSchedules(client).then(() => terminateOpenWorkflows(client));
  await namespaceSwept;
  const running: RunningWorkers[] = [];

  async function startWorkers(
    activitiesByQueue: Partial<Record<WorkerQueue, object>>,
    options: { checkout?: boolean } = {},
  ): Promise<RunningWorkers> {
    const workers: Worker[] = [];
    if (options.checkout ?? true) {
      workers.push(
        await Worker.create({
          ...shared,
          connection,
          namespace,
          taskQueue: TASK_QUEUES.checkout,
          workflowBundle: workflowBundle({ tracing: tracing !== undefined }),
        }),
      );
    }
    for (const [queue, activities] of Object.entries(activitiesByQueue)) {
      if (queue === 'checkout') continue;
      workers.push(
        await Worker.create({
          ...shared,
          connection,
          namespace,
          taskQueue: TASK_QUEUES[queue as WorkerQueue],
          activities,
        }),
      );
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
 * A Schedule an earlier file left (a worker process creates the reconciler's, reconciler/schedule.ts)
 * would start workflows here later, run by this file's workers against this file's databases.
 */
async function deleteSchedules(client: Client): Promise<void> {
  for await (const schedule of client.schedule.list()) {
    await client.schedule
      .getHandle(schedule.scheduleId)
      .delete()
      .catch((error: unknown) => {
        if (!(error instanceof ScheduleNotFoundError)) throw error;
      });
  }
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
