/**
 * Which Worker Deployment Version a worker process is (TEMPORAL_DEPLOYMENT_NAME and
 * TEMPORAL_BUILD_ID), and how that reaches the SDK and visibility queries. Unset means unversioned:
 * the dev stack, the tests and the benchmarks run that way, and every change then ships as a patch
 * (docs/changing-workflows.md).
 */
import type { WorkerDeploymentVersion } from '@temporalio/common';
import type { WorkerDeploymentOptions } from '@temporalio/worker';

type Env = Record<string, string | undefined>;

export type { WorkerDeploymentVersion };

/**
 * A deployment name has no `.`: the server's older string form of a version is `name.buildId`.
 * Neither value has quotes or spaces, so both can stand in a visibility query as they are. A build
 * id may carry dots and slashes (`1.4.0`, `main/4f2c9e1`).
 */
const DEPLOYMENT_NAME = /^[A-Za-z0-9_/-]{1,200}$/;
const BUILD_ID = /^[A-Za-z0-9_./-]{1,200}$/;

export class WorkerDeploymentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WorkerDeploymentError';
  }
}

export function checkDeploymentName(name: string): string {
  if (!DEPLOYMENT_NAME.test(name))
    throw new WorkerDeploymentError(
      `"${name}" is not a deployment name: letters, digits, _ - / (no dots), at most 200`,
    );
  return name;
}

export function checkBuildId(buildId: string): string {
  if (!BUILD_ID.test(buildId))
    throw new WorkerDeploymentError(`"${buildId}" is not a build id: letters, digits, _ . - /, at most 200`);
  return buildId;
}

/** Both variables or neither: a build id without its deployment (or the reverse) is a typo, not a choice. */
export function workerDeploymentFromEnv(env: Env = process.env): WorkerDeploymentVersion | undefined {
  const deploymentName = env.TEMPORAL_DEPLOYMENT_NAME?.trim() || undefined;
  const buildId = env.TEMPORAL_BUILD_ID?.trim() || undefined;
  if (!deploymentName && !buildId) return undefined;
  if (!deploymentName || !buildId) {
    throw new WorkerDeploymentError(
      'Worker versioning needs both TEMPORAL_DEPLOYMENT_NAME and TEMPORAL_BUILD_ID (or neither, for unversioned workers)',
    );
  }
  return { deploymentName: checkDeploymentName(deploymentName), buildId: checkBuildId(buildId) };
}

/**
 * What a versioned worker tells the SDK. Each workflow type declares its own behaviour
 * (workflows/index.ts); the default only covers a type that forgets to, and pinned is the safe
 * one for a workflow that ends within a deploy cycle.
 */
export function workerDeploymentOptions(version: WorkerDeploymentVersion): WorkerDeploymentOptions {
  return { version, useWorkerVersioning: true, defaultVersioningBehavior: 'PINNED' };
}

/** The version as visibility keeps it in `TemporalWorkerDeploymentVersion` (checked on server 1.29.1). */
export function visibilityVersion(version: WorkerDeploymentVersion): string {
  return `${version.deploymentName}:${version.buildId}`;
}

export function describeVersion(version: WorkerDeploymentVersion | undefined): string {
  return version ? `${version.deploymentName} build ${version.buildId}` : 'unversioned';
}
