/**
 * Runs the Temporal workers: by default the `checkout` workflows and every service's
 * activities; `--services inventory,payments` runs only those, so each service can be
 * deployed and scaled apart. SIGINT/SIGTERM shut down gracefully: polling stops and
 * in-flight activities finish before the process exits. Logs are JSON lines on stdout;
 * the SDK's metrics are served for Prometheus (lib/worker-telemetry.ts).
 */
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { databaseUrlsFromEnv, loadSettings } from './lib/config';
import { refuseUnsafeProduction } from './lib/production';
import { installWorkerRuntime, workerTelemetryFromEnv } from './lib/worker-telemetry';
import { createWorkers, queuesFromArgs } from './lib/workers';
import { openServices } from './services';

async function main(): Promise<void> {
  // Before the metrics port opens or anything connects.
  refuseUnsafeProduction('The worker');
  const { lifecycle, metricsUrl } = installWorkerRuntime(workerTelemetryFromEnv());
  const settings = loadSettings();
  const queues = queuesFromArgs(process.argv.slice(2));
  const services = openServices(databaseUrlsFromEnv(), settings);
  const connection = await NativeConnection.connect({ address: settings.temporalAddress });
  const clientConnection = await Connection.connect({ address: settings.temporalAddress });
  const client = new Client({ connection: clientConnection, namespace: settings.temporalNamespace });
  try {
    const workers = await createWorkers({ connection, namespace: settings.temporalNamespace, queues, services, client });
    // The launcher (scripts/stack.ts) and tests wait for "workers polling" in this line, at any LOG_LEVEL.
    lifecycle.info(`workers polling ${queues.join(', ')} on ${settings.temporalAddress} (namespace ${settings.temporalNamespace})`, {
      queues,
      namespace: settings.temporalNamespace,
      metrics: metricsUrl ?? null,
    });
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
