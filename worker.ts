/** Runs the Temporal workers: for now the `checkout` queue's workflows; the service queues join as their activities land. */
import { NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { loadSettings } from './lib/config';
import { TASK_QUEUES } from './workflows/contract';

async function main(): Promise<void> {
  // The runtime shuts every worker down gracefully on these signals; worker.run() then resolves.
  Runtime.install({ shutdownSignals: ['SIGINT', 'SIGTERM'] });
  const settings = loadSettings();
  const connection = await NativeConnection.connect({ address: settings.temporalAddress });
  try {
    const worker = await Worker.create({
      connection,
      namespace: settings.temporalNamespace,
      taskQueue: TASK_QUEUES.checkout,
      workflowsPath: require.resolve('./workflows'),
    });
    console.log(`worker polling task queue "${TASK_QUEUES.checkout}" on ${settings.temporalAddress}`);
    await worker.run();
  } finally {
    await connection.close();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
