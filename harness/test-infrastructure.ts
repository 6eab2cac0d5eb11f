/** Test infrastructure shared by a whole Jest run: one in-memory Temporal dev server and one stripe-mock, on free ports. */
import { ensureTool } from '../scripts/lib/tools';
import { Supervisor, type ProcessSpec } from './supervisor';
import { freePort, waitForPort } from './waits';
import { stripeMockArgs, temporalDevServerArgs, waitForStripeMock, waitForTemporal } from '../scripts/lib/dev-servers';

export { freePort, waitForHttp, waitForPort } from './waits';
export { STRIPE_MOCK_KEY } from '../scripts/lib/dev-servers';

export const TEMPORAL_NAMESPACE = 'default';

/**
 * Workflow tests run their workers in a namespace of their own Jest worker, so that two
 * test files running at once never take each other's tasks (the task queue names are fixed
 * by the contract). The dev server creates these at start, search attributes included.
 */
export const TEST_NAMESPACE_COUNT = 4;
export const testNamespaces = (): string[] => Array.from({ length: TEST_NAMESPACE_COUNT }, (_, i) => `test-${i + 1}`);
/**
 * The versioning drill's own namespace: a deployment's current version is the routing of its task
 * queues in the namespace, so in a shared one it would send the next test file's orders to workers
 * the drill has stopped.
 */
export const VERSIONING_DRILL_NAMESPACE = 'versioning-drill';

export interface TestInfrastructureEnv {
  TEMPORAL_ADDRESS: string;
  TEMPORAL_NAMESPACE: string;
  STRIPE_API_BASE: string;
  STRIPE_MOCK_HTTPS_BASE: string;
  /** The built CLI, for `TestWorkflowEnvironment.createLocal({ server: { executable: { type: 'existing-path', path } } })`. */
  TEMPORAL_CLI_PATH: string;
  STRIPE_MOCK_PATH: string;
  [name: string]: string;
}

export interface TestInfrastructure {
  env: TestInfrastructureEnv;
  stop(): Promise<void>;
}

export interface TestInfrastructureOptions {
  /** Show the servers' own output (default: only when STOREFRONT_TEST_VERBOSE=true). */
  verbose?: boolean;
  startTimeoutMs?: number;
}

export async function startTestInfrastructure(options: TestInfrastructureOptions = {}): Promise<TestInfrastructure> {
  const verbose = options.verbose ?? process.env.STOREFRONT_TEST_VERBOSE === 'true';
  const timeoutMs = options.startTimeoutMs ?? 60_000;
  const [temporalCli, stripeMock] = await Promise.all([ensureTool('temporal'), ensureTool('stripe-mock')]);
  const supervisor = new Supervisor();
  const output: ProcessSpec['output'] = verbose ? 'prefix' : 'ignore';
  try {
    const [temporal, stripe] = await Promise.all([
      startTemporal(supervisor, temporalCli, output, timeoutMs),
      startStripeMock(supervisor, stripeMock, output, timeoutMs),
    ]);
    return {
      env: {
        TEMPORAL_ADDRESS: temporal.address,
        TEMPORAL_NAMESPACE,
        STRIPE_API_BASE: stripe.httpBase,
        STRIPE_MOCK_HTTPS_BASE: stripe.httpsBase,
        TEMPORAL_CLI_PATH: temporalCli,
        STRIPE_MOCK_PATH: stripeMock,
      },
      stop: () => supervisor.stopAll({ timeoutMs: 5_000 }),
    };
  } catch (error) {
    await supervisor.stopAll({ timeoutMs: 2_000 });
    throw error;
  }
}

/** A dev server in memory and headless: nothing to write, nothing to clean, ready in about a second. */
async function startTemporal(
  supervisor: Supervisor,
  cli: string,
  output: ProcessSpec['output'],
  timeoutMs: number,
): Promise<{ address: string }> {
  const port = await freePort();
  const proc = supervisor.start({
    name: 'temporal',
    command: cli,
    args: temporalDevServerArgs({
      port,
      logLevel: 'error',
      namespaces: [...testNamespaces(), VERSIONING_DRILL_NAMESPACE],
    }),
    output,
  });
  const address = `127.0.0.1:${port}`;
  await waitForPort(port, 'the Temporal dev server', { process: proc, timeoutMs });
  await waitForTemporal(address, TEMPORAL_NAMESPACE, { process: proc, timeoutMs });
  return { address };
}

async function startStripeMock(
  supervisor: Supervisor,
  binary: string,
  output: ProcessSpec['output'],
  timeoutMs: number,
): Promise<{ httpBase: string; httpsBase: string }> {
  const [httpPort, httpsPort] = await Promise.all([freePort(), freePort()]);
  const proc = supervisor.start({
    name: 'stripe-mock',
    command: binary,
    args: stripeMockArgs(httpPort, httpsPort),
    output,
  });
  const httpBase = `http://127.0.0.1:${httpPort}`;
  await waitForStripeMock(httpBase, { process: proc, timeoutMs });
  return { httpBase, httpsBase: `https://127.0.0.1:${httpsPort}` };
}
