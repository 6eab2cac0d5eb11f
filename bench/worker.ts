/**
 * The benchmarks' worker process: what `worker.ts` runs (every queue, real services and
 * activities), plus the baseline workflow and a no-op activity on every service queue, with
 * the worker settings the benchmark passes in BENCH_WORKER_TUNING.
 */
import { DefaultLogger, Runtime, Worker, type WorkerOptions } from '@temporalio/worker';
import { readFileSync } from 'node:fs';
import { createActivitiesByQueue, type ServiceQueue } from '../activities';
import { databaseUrlsFromEnv, loadSettings } from '../lib/config';
import { connectClient, connectWorker, createClient, temporalSettingsFromEnv } from '../lib/temporal-connection';
import { sharedWorkerOptions } from '../lib/workers';
import { openServices } from '../services';
import { TASK_QUEUES } from '../workflows/contract';
import { createNoopActivities } from './lib/noop-activities';
import { BUNDLE_ENV, READY_LINE, TUNING_ENV, type WorkerTuning } from './lib/tuning';

async function main(): Promise<void> {
  Runtime.install({
    shutdownSignals: ['SIGINT', 'SIGTERM'],
    logger: new DefaultLogger('ERROR'),
  });
  const settings = loadSettings();
  const tuning = JSON.parse(process.env[TUNING_ENV] ?? '{}') as WorkerTuning;
  const bundlePath = process.env[BUNDLE_ENV];
  if (!bundlePath) throw new Error(`${BUNDLE_ENV} must name the bundled workflow code`);
  const services = openServices(databaseUrlsFromEnv(), settings);
  const temporal = temporalSettingsFromEnv();
  const connection = await connectWorker(temporal);
  const clientConnection = await connectClient(temporal);
  const client = createClient(clientConnection, temporal);
  const activities = createActivitiesByQueue(services, client);
  const noop = createNoopActivities();
  const common: Partial<WorkerOptions> = { ...sharedWorkerOptions({ dataConverter: temporal.dataConverter }), connection, namespace: temporal.namespace };
  const workflowSettings: Partial<WorkerOptions> = {
    ...(tuning.maxConcurrentWorkflowTaskExecutions ? { maxConcurrentWorkflowTaskExecutions: tuning.maxConcurrentWorkflowTaskExecutions } : {}),
    ...(tuning.maxConcurrentWorkflowTaskPolls ? { maxConcurrentWorkflowTaskPolls: tuning.maxConcurrentWorkflowTaskPolls } : {}),
    ...(tuning.maxCachedWorkflows ? { maxCachedWorkflows: tuning.maxCachedWorkflows } : {}),
  };
  const activitySettings: Partial<WorkerOptions> = {
    ...(tuning.maxConcurrentActivityTaskExecutions ? { maxConcurrentActivityTaskExecutions: tuning.maxConcurrentActivityTaskExecutions } : {}),
    ...(tuning.maxConcurrentActivityTaskPolls ? { maxConcurrentActivityTaskPolls: tuning.maxConcurrentActivityTaskPolls } : {}),
  };
  const workers = await Promise.all([
    Worker.create({
      ...common,
      ...workflowSettings,
      taskQueue: TASK_QUEUES.checkout,
      workflowBundle: { code: readFileSync(bundlePath, 'utf8') },
      connection,
    }),
    ...(Object.keys(activities) as ServiceQueue[]).map((queue) =>
      Worker.create({ ...common, ...activitySettings, connection, taskQueue: TASK_QUEUES[queue], activities: { ...activities[queue], ...noop } }),
    ),
  ]);
  console.log(`${READY_LINE} (${JSON.stringify(tuning)})`);
  try {
    await Promise.all(workers.map((worker) => worker.run()));
  } finally {
    await clientConnection.close();
    await connection.close();
    await services.close();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
