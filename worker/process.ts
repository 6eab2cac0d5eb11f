/**
 * The worker process: what `worker.ts` runs, and what the benchmarks' and the chaos run's worker
 * processes run with their additions (`WorkerProcessExtras`), so there is one worker and nothing
 * patches the SDK.
 *
 * By default it runs the `checkout` workflows and every service's activities; `--services
 * inventory,payments` runs only those, so each service can be deployed and scaled apart.
 * SIGINT/SIGTERM shut down gracefully: polling stops and in-flight activities finish before the
 * process exits. The workflow code is bundled ahead of time when it can be (worker/workflow-bundle.ts:
 * WORKFLOW_BUNDLE, else the bundle `npm run build` put in dist/); from the sources the worker bundles
 * `workflows/` as it starts, a few seconds of CPU. Logs are JSON lines on stdout; the SDK's metrics are served for Prometheus
 * (worker/telemetry.ts).
 */
import { databaseUrlsFromEnv, loadSettings } from '../lib/config';
import { refuseUnsafeProduction } from '../lib/production';
import { ensureReconcilerSchedule, reconcilerIntervalFromEnv } from '../reconciler/schedule';
import {
  connectClient,
  connectWorker,
  createClient,
  describeTemporal,
  temporalSettingsFromEnv,
} from '../temporal/connection';
import { installTracing } from '../temporal/tracing';
import { describeVersion, workerDeploymentFromEnv } from './deployment';
import { installWorkerRuntime, workerTelemetryFromEnv } from './telemetry';
import { createWorkers, queuesFromServices, WORKER_OPTIONS, WORKER_USAGE, type WorkerAdditions } from './workers';
import { commandLineOrExit } from '../lib/command-line';
import { prebuiltWorkflowBundle } from './workflow-bundle';
import { openServices } from '../services';

export interface WorkerProcessExtras extends WorkerAdditions {
  /** Awaited after everything is loaded and connected, before the workers are created (a standby process waits here). */
  beforeCreate?: () => Promise<void>;
}

export async function runWorkerProcess(extras: WorkerProcessExtras = {}): Promise<void> {
  // A mistyped flag or queue stops the process before anything starts; --help prints the options.
  const queues = commandLineOrExit(WORKER_USAGE, WORKER_OPTIONS, (values) => queuesFromServices(values.services));
  // Before the metrics port opens or anything connects.
  refuseUnsafeProduction('The worker');
  const { lifecycle, metricsUrl } = installWorkerRuntime(workerTelemetryFromEnv());
  const settings = loadSettings();
  const temporal = temporalSettingsFromEnv();
  const deployment = workerDeploymentFromEnv();
  const tracing = installTracing({ serviceName: 'storefront-worker' });
  const prebundled = prebuiltWorkflowBundle(tracing !== undefined);
  // Read before connecting, so a bad value stops the worker at once.
  const reconcilerInterval = queues.includes('reconciler') ? reconcilerIntervalFromEnv() : undefined;
  const services = openServices(databaseUrlsFromEnv(), settings);
  const connection = await connectWorker(temporal);
  const clientConnection = await connectClient(temporal);
  // The activities' client (quota signals users' notification workflows): the same codec and trace propagation as the workers.
  const client = createClient(clientConnection, temporal, tracing ? { interceptors: tracing.clientInterceptors } : {});
  try {
    await extras.beforeCreate?.();
    const workers = await createWorkers({
      connection,
      namespace: temporal.namespace,
      queues,
      services,
      client,
      dataConverter: temporal.dataConverter,
      tracing,
      deployment,
      ...(prebundled ? { workflowBundle: { codePath: prebundled } } : {}),
      ...extras,
    });
    // The process that runs the reconciler's activity keeps its Schedule as configured (reconciler/schedule.ts).
    if (reconcilerInterval !== undefined) {
      const { created } = await ensureReconcilerSchedule(client, { intervalSeconds: reconcilerInterval });
      lifecycle.info(`reconciler schedule ${created ? 'created' : 'up to date'}: every ${reconcilerInterval} s`, {
        intervalSeconds: reconcilerInterval,
      });
    }
    // The launcher (devstack/local-stack.ts), the tests and the benchmarks wait for "workers polling" in this line, at any LOG_LEVEL.
    lifecycle.info(
      `workers polling ${queues.join(', ')} on ${describeTemporal(temporal)} (${describeVersion(deployment)})`,
      {
        queues,
        namespace: temporal.namespace,
        deployment: deployment ?? null,
        metrics: metricsUrl ?? null,
        tracing: tracing !== undefined,
        // Only the checkout queue runs workflow code; null when it was bundled at start.
        workflowBundle: queues.includes('checkout') ? (prebundled ?? null) : undefined,
      },
    );
    await Promise.all(workers.map((worker) => worker.run()));
  } finally {
    await tracing?.shutdown();
    await clientConnection.close();
    // A worker that failed while starting still holds the connection, and closing it then throws
    // an error of its own: the one that stopped the worker is the one to report.
    await connection
      .close()
      .catch((error: unknown) => lifecycle.warn('worker connection not closed', { error: String(error) }));
    await services.close();
  }
}

/** Runs the worker process as a program's main: a failure is printed and exits 1. */
export function main(extras?: WorkerProcessExtras): void {
  runWorkerProcess(extras).catch((error) => {
    console.error(error);
    process.exit(1);
  });
}
