/**
 * What an operator does with worker versions (docs/changing-workflows.md): see each version of the
 * deployment with its routing status and its open orders, to know when an old one can be stopped,
 * make a version current or ramp new orders onto it, and wait until an old one has drained.
 * `npm run ops -- versions`, `set-current`, `set-ramping` and `wait-drained` are the command line.
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
const GRPC_INVALID_ARGUMENT = 3;

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
  return routingChange(client, version, 'current', async () => {
    if (!options.ignoreMissingTaskQueues) await refuseMissingTaskQueues(client, version);
    const response = await client.workflowService.setWorkerDeploymentCurrentVersion({
      namespace,
      ...version,
      identity,
      ignoreMissingTaskQueues: options.ignoreMissingTaskQueues ?? false,
    });
    return { previousBuildId: response.previousDeploymentVersion?.buildId || undefined };
  });
}

/**
 * Sends `percent` of new orders (and of auto-upgrading workflows' tasks) to `buildId`, the rest to the
 * current version: a release tried on a share of the traffic before it is made current. The same
 * refusals as setCurrentVersion; 0 keeps the version ramping with no traffic.
 */
export async function setRampingVersion(
  client: Client,
  deploymentName: string,
  buildId: string,
  percent: number,
  options: { ignoreMissingTaskQueues?: boolean } = {},
): Promise<{ previousBuildId: string | undefined; previousPercent: number }> {
  const { namespace, identity } = client.options;
  const version = { deploymentName: checkDeploymentName(deploymentName), buildId: checkBuildId(buildId) };
  if (!Number.isFinite(percent) || percent < 0 || percent > 100)
    throw new OperationError(`A ramp is a percentage from 0 to 100, got ${percent}`);
  return routingChange(client, version, 'ramping', async () => {
    if (!options.ignoreMissingTaskQueues) await refuseMissingTaskQueues(client, version);
    const response = await client.workflowService.setWorkerDeploymentRampingVersion({
      namespace,
      ...version,
      percentage: percent,
      identity,
      ignoreMissingTaskQueues: options.ignoreMissingTaskQueues ?? false,
    });
    return {
      previousBuildId: response.previousDeploymentVersion?.buildId || undefined,
      previousPercent: response.previousPercentage ?? 0,
    };
  });
}

/** A routing change, with the server's refusals in an operator's words. */
async function routingChange<T>(
  client: Client,
  version: WorkerDeploymentVersion,
  as: 'current' | 'ramping',
  change: () => Promise<T>,
): Promise<T> {
  const { namespace } = client.options;
  try {
    return await change();
  } catch (error) {
    const code = grpcCode(error);
    if (code === GRPC_NOT_FOUND) {
      throw new OperationError(
        `No worker of ${version.deploymentName} build ${version.buildId} has polled namespace ${namespace} yet: start its workers, then run this again (the server said: ${(error as Error).message})`,
      );
    }
    if (code === GRPC_FAILED_PRECONDITION || code === GRPC_INVALID_ARGUMENT)
      throw new OperationError(
        `The server refused to make ${version.buildId} ${as}: ${(error as { details?: string }).details ?? (error as Error).message}`,
      );
    throw error;
  }
}

export interface DrainWait {
  /** Poll every this many ms (the counts come from visibility). */
  intervalMs?: number;
  /** Told when the version's open pinned workflows change. */
  progress?: (version: VersionListing) => void;
}

/**
 * Waits until `buildId` can be stopped: nothing routes new work to it and no open workflow is
 * pinned to it (listVersions' canStop, from visibility). The server's own `drained` status says
 * the same, minutes later (it recounts on a slow cadence), so this does not wait for it. A version
 * still current or ramping is refused at once: nothing would ever drain it. The version as last
 * seen, with `drained` false when `timeoutMs` passed first.
 */
export async function waitDrained(
  client: Client,
  deploymentName: string,
  buildId: string,
  timeoutMs: number,
  options: DrainWait = {},
): Promise<{ drained: boolean; version: VersionListing }> {
  const deadline = Date.now() + timeoutMs;
  let lastPinned: number | undefined;
  for (;;) {
    const version = (await listVersions(client, deploymentName)).versions.find((v) => v.buildId === buildId);
    if (!version) throw new OperationError(`No version ${buildId} in worker deployment ${deploymentName}`);
    if (version.status === 'current' || version.status === 'ramping')
      throw new OperationError(
        `${buildId} is ${version.status}: new orders still go to it, so it never drains; make another version current (or stop its ramp) first`,
      );
    if (version.openPinned !== lastPinned) options.progress?.(version);
    lastPinned = version.openPinned;
    if (version.canStop) return { drained: true, version };
    if (Date.now() >= deadline) return { drained: false, version };
    await new Promise((resolve) => setTimeout(resolve, Math.min(options.intervalMs ?? 2_000, deadline - Date.now())));
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
