/** Builds the Temporal workers: `checkout` runs the workflows, each service queue its own activities. */
import type { Client } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import { NativeConnection, Worker, type ActivityInterceptorsFactory, type WorkerOptions } from '@temporalio/worker';
import { createActivitiesByQueue, type ServiceQueue } from './activities-by-queue';
import type { Services } from '../services';
import { TASK_QUEUES } from '../workflows/contract';
import { livenessHeartbeats } from './liveness-heartbeats';
import type { Tracing } from '../temporal/tracing';
import { workerDeploymentOptions, type WorkerDeploymentVersion } from './deployment';
import { parseCommandLine, UsageError, type CommandOptions } from '../lib/command-line';

export type WorkerQueue = keyof typeof TASK_QUEUES;
export const ALL_QUEUES = Object.keys(TASK_QUEUES) as WorkerQueue[];

/** Worker settings a deployment (or a benchmark) may tune; the SDK's defaults otherwise. */
export interface WorkerTuning {
  /** Per worker (one per task queue). SDK default 40. */
  maxConcurrentWorkflowTaskExecutions?: number;
  /** Per worker. SDK default 100. */
  maxConcurrentActivityTaskExecutions?: number;
  /** Fixed pollers per worker; SDK default min(10, slots). */
  maxConcurrentWorkflowTaskPolls?: number;
  maxConcurrentActivityTaskPolls?: number;
  /** Workflows kept in the sticky cache. */
  maxCachedWorkflows?: number;
}

/** What the benchmarks' and the chaos run's worker processes add to the workers (worker/process.ts). */
export interface WorkerAdditions {
  /** Pre-bundled workflow code, so tests bundle once per file instead of once per worker. */
  workflowBundle?: WorkerOptions['workflowBundle'];
  /** Activity interceptors inside the shared ones (the chaos run's boundary probe). */
  activityInterceptors?: ActivityInterceptorsFactory[];
  /** Activities added to every service queue (the benchmarks' no-op, for the floor baseline). */
  extraActivities?: Record<string, (...args: never[]) => Promise<unknown>>;
  tuning?: WorkerTuning;
}

export interface CreateWorkersOptions extends WorkerAdditions {
  connection: NativeConnection;
  namespace: string;
  queues: readonly WorkerQueue[];
  services: Services;
  client: Client;
  /** The payload codec (temporal/payload-codec.ts), when encryption is on: the same as every client's. */
  dataConverter?: DataConverter;
  /** Workflow and activity spans (temporal/tracing.ts), when tracing is on. A pre-built bundle must then include WORKFLOW_TRACING_MODULE. */
  tracing?: Tracing;
  /**
   * The Worker Deployment Version this process is (worker/deployment.ts); undefined runs unversioned.
   * Every queue's worker declares it, activities included, so a pinned order's activities run on
   * the workers of its own release too.
   */
  deployment?: WorkerDeploymentVersion;
}

/** What every worker of the process shares: codec, liveness heartbeats, tracing interceptors and the workflows' span sink, its deployment version. */
export function sharedWorkerOptions(
  options: Pick<CreateWorkersOptions, 'dataConverter' | 'tracing' | 'deployment'>,
): Partial<WorkerOptions> {
  const traced = options.tracing?.workerInterceptors;
  return {
    ...(options.deployment ? { workerDeploymentOptions: workerDeploymentOptions(options.deployment) } : {}),
    ...(options.dataConverter ? { dataConverter: options.dataConverter } : {}),
    // Tracing outermost, so an activity's span covers everything it does.
    interceptors: { ...traced, activity: [...(traced?.activity ?? []), livenessHeartbeats] },
    ...(options.tracing ? { sinks: options.tracing.workerSinks } : {}),
  };
}

export async function createWorkers(options: CreateWorkersOptions): Promise<Worker[]> {
  const activities = createActivitiesByQueue(options.services, options.client);
  const shared = sharedWorkerOptions(options);
  const interceptors = {
    ...shared.interceptors,
    activity: [...(shared.interceptors?.activity ?? []), ...(options.activityInterceptors ?? [])],
  };
  const { maxConcurrentActivityTaskExecutions, maxConcurrentActivityTaskPolls, ...workflowTuning } =
    options.tuning ?? {};
  const common = { ...shared, interceptors, connection: options.connection, namespace: options.namespace };
  return Promise.all(
    options.queues.map((queue) =>
      queue === 'checkout'
        ? Worker.create({
            ...common,
            ...definedOnly(workflowTuning),
            taskQueue: TASK_QUEUES.checkout,
            ...(options.workflowBundle
              ? { workflowBundle: options.workflowBundle }
              : { workflowsPath: require.resolve('../workflows') }),
          })
        : Worker.create({
            ...common,
            ...definedOnly({ maxConcurrentActivityTaskExecutions, maxConcurrentActivityTaskPolls }),
            taskQueue: TASK_QUEUES[queue],
            activities: { ...activities[queue as ServiceQueue], ...options.extraActivities },
          }),
    ),
  );
}

/** Leaves out what is not set, so the SDK's default applies rather than `undefined`. */
function definedOnly<T extends object>(settings: T): Partial<T> {
  return Object.fromEntries(Object.entries(settings).filter(([, value]) => value !== undefined)) as Partial<T>;
}

/** The worker process's command line (worker.ts, and the benchmarks' and the chaos run's workers). */
export const WORKER_USAGE = `npm run worker -- [options]: the Temporal worker process, with the settings of docs/configuration.md.`;
export const WORKER_OPTIONS = {
  services: { type: 'string', help: `only these task queues, comma-separated (default all: ${ALL_QUEUES.join(',')})` },
} as const satisfies CommandOptions;

/** Parses `--services inventory,payments` (and `checkout`); all queues when absent. */
export function queuesFromArgs(argv: readonly string[]): WorkerQueue[] {
  return queuesFromServices(parseCommandLine(argv, WORKER_OPTIONS).services);
}

/** The queues `--services` names (all when it is not given); refuses a name that is not a queue. */
export function queuesFromServices(value: string | undefined): WorkerQueue[] {
  if (value === undefined) return ALL_QUEUES;
  const names = value
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  const unknown = names.filter((name) => !(ALL_QUEUES as string[]).includes(name));
  if (names.length === 0 || unknown.length > 0) {
    throw new UsageError(
      `--services takes a comma-separated list of ${ALL_QUEUES.join(', ')}; unknown: ${unknown.join(', ') || '(none given)'}`,
    );
  }
  return names as WorkerQueue[];
}
