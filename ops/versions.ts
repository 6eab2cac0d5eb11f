/**
 * What an operator does with worker versions (docs/changing-workflows.md): see each version of the
 * deployment with its routing status and its open orders, to know when an old one can be stopped,
 * and make a version current. `npm run ops -- versions` and `set-current` are the command line.
 */
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import {
  checkBuildId,
  checkDeploymentName,
  visibilityVersion,
  type WorkerDeploymentVersion,
} from '../worker/deployment';
import { OperationError } from './orders';

const VERSION_STATUS = temporal.api.enums.v1.WorkerDeploymentVersionStatus;
const GRPC_NOT_FOUND = 5;
const GRPC_FAILED_PRECONDITION = 9;

export interface VersionListing {
  buildId: string;
  /** The server's routing status: current, ramping, draining, drained or inactive. */
  status: string;
  /** The ramping version's share of new workflows, in percent. */
  rampPercentage?: number;
  /** The task queues its workers poll (all of a release's processes are up when every queue is here). */
  taskQueues: string[];
  /** Open checkout workflows whose last task ran on this version. */
  openCheckouts: number;
  /** Open workflows pinned to this version: they need its workers until they end. */
  openPinned: number;
  /** Nothing routes new work to it and nothing is pinned to it: its workers can be stopped. */
  canStop: boolean;
}

export interface DeploymentListing {
  deploymentName: string;
  versions: VersionListing[];
  /** Open checkout workflows started before versioning was on: they need an unversioned worker. */
  unversionedOpenCheckouts: number;
}

const OPEN_CHECKOUTS = `WorkflowType = 'checkoutWorkflow' AND ExecutionStatus = 'Running'`;

/** The visibility queries behind the counts, as an operator would type them in the Web UI. */
export function versionQueries(version: WorkerDeploymentVersion): { openCheckouts: string; openPinned: string } {
  const onVersion = `TemporalWorkerDeploymentVersion = '${visibilityVersion(version)}'`;
  return {
    openCheckouts: `${OPEN_CHECKOUTS} AND ${onVersion}`,
    openPinned: `ExecutionStatus = 'Running' AND ${onVersion} AND TemporalWorkflowVersioningBehavior = 'Pinned'`,
  };
}

/**
 * The counts come from visibility, which is current within moments; the server's own drainage
 * status (`draining` → `drained`) is refreshed only every few minutes, so it lags behind them.
 */
export async function listVersions(client: Client, deploymentName: string): Promise<DeploymentListing> {
  const { namespace } = client.options;
  let info;
  try {
    ({ workerDeploymentInfo: info } = await client.workflowService.describeWorkerDeployment({
      namespace,
      deploymentName: checkDeploymentName(deploymentName),
    }));
  } catch (error) {
    if (grpcCode(error) === GRPC_NOT_FOUND)
      throw new OperationError(
        `No worker deployment "${deploymentName}" in namespace ${namespace}: no versioned worker has polled it yet`,
      );
    throw error;
  }
  const ramping = info?.routingConfig?.rampingDeploymentVersion;
  const versions = await Promise.all(
    (info?.versionSummaries ?? []).map(async (summary): Promise<VersionListing> => {
      const buildId = summary.deploymentVersion?.buildId ?? '';
      const status = (VERSION_STATUS[summary.status ?? 0] ?? 'UNSPECIFIED')
        .replace('WORKER_DEPLOYMENT_VERSION_STATUS_', '')
        .toLowerCase();
      const queries = versionQueries({ deploymentName, buildId });
      const [taskQueues, openCheckouts, openPinned] = await Promise.all([
        versionTaskQueues(client, { deploymentName, buildId }),
        count(client, queries.openCheckouts),
        count(client, queries.openPinned),
      ]);
      return {
        buildId,
        status,
        ...(ramping?.buildId === buildId ? { rampPercentage: info?.routingConfig?.rampingVersionPercentage ?? 0 } : {}),
        taskQueues,
        openCheckouts,
        openPinned,
        canStop: status !== 'current' && status !== 'ramping' && openPinned === 0,
      };
    }),
  );
  versions.sort((a, b) => a.buildId.localeCompare(b.buildId));
  const unversionedOpenCheckouts = await count(client, `${OPEN_CHECKOUTS} AND TemporalWorkerDeploymentVersion IS NULL`);
  return { deploymentName, versions, unversionedOpenCheckouts };
}

/**
 * Routes new orders (and auto-upgrading workflows) to `buildId`. The server refuses a version none
 * of whose workers has polled yet. It did not refuse (server 1.29.1) one whose workers poll fewer
 * task queues than the current version's, which would leave those steps waiting for a worker that
 * is not there (a release whose payments process is not up yet): refused here, unless told to ignore it.
 */
export async function setCurrentVersion(
  client: Client,
  deploymentName: string,
  buildId: string,
  options: { ignoreMissingTaskQueues?: boolean } = {},
): Promise<{ previousBuildId: string | undefined }> {
  const { namespace, identity } = client.options;
  const version = { deploymentName: checkDeploymentName(deploymentName), buildId: checkBuildId(buildId) };
  try {
    if (!options.ignoreMissingTaskQueues) await refuseMissingTaskQueues(client, version);
    const response = await client.workflowService.setWorkerDeploymentCurrentVersion({
      namespace,
      ...version,
      identity,
      ignoreMissingTaskQueues: options.ignoreMissingTaskQueues ?? false,
    });
    return { previousBuildId: response.previousDeploymentVersion?.buildId || undefined };
  } catch (error) {
    const code = grpcCode(error);
    if (code === GRPC_NOT_FOUND) {
      throw new OperationError(
        `No worker of ${deploymentName} build ${buildId} has polled namespace ${namespace} yet: start its workers, then run this again (the server said: ${(error as Error).message})`,
      );
    }
    if (code === GRPC_FAILED_PRECONDITION)
      throw new OperationError(`The server refused to make ${buildId} current: ${(error as Error).message}`);
    throw error;
  }
}

async function refuseMissingTaskQueues(client: Client, version: WorkerDeploymentVersion): Promise<void> {
  const { workerDeploymentInfo } = await client.workflowService.describeWorkerDeployment({
    namespace: client.options.namespace,
    deploymentName: version.deploymentName,
  });
  const current = workerDeploymentInfo?.routingConfig?.currentDeploymentVersion;
  if (!current?.buildId || current.buildId === version.buildId) return;
  const [currentQueues, newQueues] = await Promise.all([
    versionTaskQueues(client, { deploymentName: version.deploymentName, buildId: current.buildId }),
    versionTaskQueues(client, version),
  ]);
  const missing = currentQueues.filter((queue) => !newQueues.includes(queue));
  if (missing.length > 0) {
    throw new OperationError(
      `${version.buildId}'s workers do not poll ${missing.join(', ')}, which the current version ${current.buildId} polls: ` +
        'start the rest of the release (every process gets the same build id), or pass --ignore-missing-task-queues',
    );
  }
}

/** The task queues a version's workers have polled, each once (a queue has a workflow and an activity side). */
async function versionTaskQueues(client: Client, version: WorkerDeploymentVersion): Promise<string[]> {
  const described = await client.workflowService.describeWorkerDeploymentVersion({
    namespace: client.options.namespace,
    deploymentVersion: version,
  });
  return [
    ...new Set((described.workerDeploymentVersionInfo?.taskQueueInfos ?? []).map((queue) => queue.name ?? '')),
  ].sort();
}

async function count(client: Client, query: string): Promise<number> {
  return (await client.workflow.count(query)).count;
}

function grpcCode(error: unknown): number | undefined {
  return (error as { code?: number }).code;
}
