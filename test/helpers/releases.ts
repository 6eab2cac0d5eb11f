/**
 * Releases of the workers as the rollout tests run them on the dev server: each release's workers
 * polling its task queues under a worker-deployment version (as worker.ts runs them with
 * TEMPORAL_DEPLOYMENT_NAME and TEMPORAL_BUILD_ID set), and `npm run ops` in this process against
 * them, its release gate replaying against the release's workflow code.
 */
import type { Client } from '@temporalio/client';
import type { Worker, WorkflowBundleOption } from '@temporalio/worker';
import { waitUntil } from '../../devstack/waits';
import type { DeploymentListing } from '../../ops/versions';
import { run as ops } from '../../scripts/ops';
import type { Services } from '../../services';
import type { WorkerDeploymentVersion } from '../../worker/deployment';
import { ALL_QUEUES, createWorkers, type WorkerQueue } from '../../worker/workers';
import { workflowBundle, type TestTemporal } from './temporal';

export class Releases {
  private readonly running: { workers: Worker[]; runs: Promise<void>[] }[] = [];

  constructor(
    private readonly bed: { temporal: TestTemporal; services: Services; client: Client },
    private readonly deployment: string,
  ) {}

  /** `npm run ops -- <args> --deployment <name>`: its exit code and what it printed. */
  async ops(args: string[], code: WorkflowBundleOption = workflowBundle()): Promise<{ code: number; stdout: string }> {
    const lines: string[] = [];
    const exitCode = await ops(
      [...args, '--deployment', this.deployment],
      this.bed.client,
      (line) => lines.push(line),
      {},
      {
        workflowCode: async () => code,
      },
    );
    return { code: exitCode, stdout: lines.join('\n') };
  }

  async listing(): Promise<DeploymentListing> {
    const { code, stdout } = await this.ops(['versions', '--json']);
    expect({ code, stdout }).toEqual({ code: 0, stdout });
    return JSON.parse(stdout) as DeploymentListing;
  }

  /** Starts a release's workers and waits until the server sees the version on each of their queues. */
  async start(
    version: WorkerDeploymentVersion,
    bundle: WorkflowBundleOption = workflowBundle(),
    queues: readonly WorkerQueue[] = ALL_QUEUES,
  ): Promise<void> {
    const { temporal, services, client } = this.bed;
    const workers = await createWorkers({
      connection: temporal.connection,
      namespace: temporal.namespace,
      queues,
      services,
      client,
      workflowBundle: bundle,
      deployment: version,
    });
    this.running.push({ workers, runs: workers.map((worker) => worker.run()) });
    // A version exists for the server once its workers' first polls arrive, one task queue after another.
    await waitUntil(
      `${version.buildId} polling its ${queues.length} task queue(s)`,
      async () =>
        (await this.listing()).versions.some(
          (v) => v.buildId === version.buildId && v.taskQueues.length === queues.length,
        ),
      { timeoutMs: 20_000 },
    );
  }

  /** Shuts every release's workers down and waits for them to stop. */
  async stopAll(): Promise<void> {
    for (const { workers } of this.running)
      for (const worker of workers) if (worker.getState() === 'RUNNING') worker.shutdown();
    await Promise.allSettled(this.running.flatMap(({ runs }) => runs));
  }
}
