/**
 * What an operator does with worker versions (docs/changing-workflows.md): see each version of the
 * deployment with its routing status and its open orders, to know when an old one can be stopped,
 * and make a version current. `npm run ops -- versions` and `set-current` are the command line.
 */
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { checkBuildId, checkDeploymentName, visibilityVersion, type WorkerDeploymentVersion } from './worker-deployment';
import { OperationError } from './operations';

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
    ({ workerDeploymentInfo: info } = await client.workflowService.describeWorkerDeployment({ namespace, deploymentName: checkDeploymentName(deploymentName) }));
  } catch (error) {
    if (grpcCode(error) === GRPC_NOT_FOUND) throw new OperationError(`No worker deployment "${deploymentName}" in namespace ${namespace}: no versioned worker has polled it yet`);
    throw error;
  }
  const ramping = info?.routingConfig?.rampingDeploymentVersion;
  const versions = await Promise.all(
    (info?.versionSummaries ?? []).map(async (summary): Promise<VersionListing> => {
      const buildId = summary.deploymentVersion?.buildId ?? '';
      const status = (VERSION_STATUS[summary.status ?? 0] ?? 'UNSPECIFIED').replace('WORKER_DEPLOYMENT_VERSION_STATUS_', '').toLowerCase();
      const queries = versionQueries({ deploymentName, buildId });
      const [described, openCheckouts, openPinned] = await Promise.all([
        client.workflowService.describeWorkerDeploymentVersion({ namespace, deploymentVersion: { deploymentName, buildId } }),
        count(client, queries.openCheckouts),
        count(client, queries.openPinned),
      ]);
      const taskQueues = [...new Set((described.workerDeploymentVersionInfo?.taskQueueInfos ?? []).map((queue) => queue.name ?? ''))].sort();
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
 * of whose workers has polled yet; it did not refuse (server 1.29.1) one that polls fewer task
 * queues than the current one, which `listVersions` shows.
 */
export async function setCurrentVersion(client: Client, deploymentName: string, buildId: string): Promise<{ previousBuildId: string | undefined }> {
  const { namespace, identity } = client.options;
  try {
    const response = await client.workflowService.setWorkerDeploymentCurrentVersion({
      namespace,
      deploymentName: checkDeploymentName(deploymentName),
      buildId: checkBuildId(buildId),
      identity,
    });
    return { previousBuildId: response.previousDeploymentVersion?.buildId || undefined };
  } catch (error) {
    const code = grpcCode(error);
    if (code === GRPC_NOT_FOUND) {
      throw new OperationError(`No worker of ${deploymentName} build ${buildId} has polled namespace ${namespace} yet: start its workers, then run this again`);
    }
    if (code === GRPC_FAILED_PRECONDITION) throw new OperationError(`The server refused to make ${buildId} current: ${(error as Error).message}`);
    throw error;
  }
}

async function count(client: Client, query: string): Promise<number> {
  return (await client.workflow.count(query)).count;
}

function grpcCode(error: unknown): number | undefined {
  return (error as { code?: number }).code;
}
