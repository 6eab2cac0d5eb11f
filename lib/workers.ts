/** Builds the Temporal workers: `checkout` runs the workflows, each service queue its own activities. */
import type { Client } from '@temporalio/client';
import { NativeConnection, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivitiesByQueue, type ServiceQueue } from '../activities';
import type { Services } from '../services';
import { TASK_QUEUES } from '../workflows/contract';

export type WorkerQueue = keyof typeof TASK_QUEUES;
export const ALL_QUEUES = Object.keys(TASK_QUEUES) as WorkerQueue[];

export interface CreateWorkersOptions {
  connection: NativeConnection;
  namespace: string;
  queues: readonly WorkerQueue[];
  services: Services;
  client: Client;
  /** Pre-bundled workflow code, so tests bundle once per file instead of once per worker. */
  workflowBundle?: WorkerOptions['workflowBundle'];
}

export async function createWorkers(options: CreateWorkersOptions): Promise<Worker[]> {
  const activities = createActivitiesByQueue(options.services, options.client);
  return Promise.all(
    options.queues.map((queue) =>
      queue === 'checkout'
        ? Worker.create({
            connection: options.connection,
            namespace: options.namespace,
            taskQueue: TASK_QUEUES.checkout,
            ...(options.workflowBundle ? { workflowBundle: options.workflowBundle } : { workflowsPath: require.resolve('../workflows') }),
          })
        : Worker.create({
            connection: options.connection,
            namespace: options.namespace,
            taskQueue: TASK_QUEUES[queue],
            activities: activities[queue as ServiceQueue],
          }),
    ),
  );
}

/** Parses `--services inventory,payments` (and `checkout`); all queues when absent. */
export function queuesFromArgs(argv: readonly string[]): WorkerQueue[] {
  const flag = argv.findIndex((arg) => arg === '--services' || arg.startsWith('--services='));
  if (flag === -1) return ALL_QUEUES;
  const value = argv[flag]!.includes('=') ? argv[flag]!.split('=')[1]! : (argv[flag + 1] ?? '');
  const names = value.split(',').map((name) => name.trim()).filter(Boolean);
  const unknown = names.filter((name) => !(ALL_QUEUES as string[]).includes(name));
  if (names.length === 0 || unknown.length > 0) {
    throw new Error(`--services takes a comma-separated list of ${ALL_QUEUES.join(', ')}; unknown: ${unknown.join(', ') || '(none given)'}`);
  }
  return names as WorkerQueue[];
}
