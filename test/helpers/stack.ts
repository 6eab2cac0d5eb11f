/** Test infrastructure shared by a whole Jest run: one in-memory Temporal dev server and one stripe-mock, on free ports. */
import { Connection } from '@temporalio/client';
import { ensureTool } from '../../scripts/lib/tools';
import { Supervisor, freePort, waitForHttp, waitForPort, waitUntil, type ProcessSpec } from '../../scripts/lib/processes';

export { freePort } from '../../scripts/lib/processes';

/** The search attributes the workflows set; the launcher registers the same ones. */
export const SEARCH_ATTRIBUTES = { OrderStatus: 'Keyword', CustomerId: 'Keyword' } as const;

export const TEMPORAL_NAMESPACE = 'default';

/** stripe-mock accepts any test key; the SDK and readiness checks need one to send. */
export const STRIPE_MOCK_KEY = 'sk_test_123';

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

/** A dev server in memory, headless, with only the ports the tests need chosen here (the rest are the server's own free ports). */
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
    args: [
      'server', 'start-dev',
      '--headless',
      '--ip', '127.0.0.1',
      '--port', String(port),
      ...Object.entries(SEARCH_ATTRIBUTES).flatMap(([name, type]) => ['--search-attribute', `${name}=${type}`]),
      '--log-level', 'error',
    ],
    output,
  });
  const address = `127.0.0.1:${port}`;
  await waitForPort(port, 'the Temporal dev server', { process: proc, timeoutMs });
  await waitForNamespace(address, TEMPORAL_NAMESPACE, { process: proc, timeoutMs });
  return { address };
}

/** Ready means the namespace answers and the search attributes are registered, not merely that the port is open. */
export async function waitForNamespace(
  address: string,
  namespace: string,
  options: Parameters<typeof waitUntil>[2] = {},
): Promise<void> {
  const connection = await Connection.connect({ address, connectTimeout: 2_000 });
  try {
    await waitUntil(
      `Temporal namespace "${namespace}" at ${address}`,
      async () => {
        await connection.workflowService.describeNamespace({ namespace });
        const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
        return Object.keys(SEARCH_ATTRIBUTES).every((name) => customAttributes && name in customAttributes);
      },
      options,
    );
  } finally {
    await connection.close();
  }
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
    args: ['-http-addr', `127.0.0.1:${httpPort}`, '-https-addr', `127.0.0.1:${httpsPort}`],
    output,
  });
  const httpBase = `http://127.0.0.1:${httpPort}`;
  await waitForStripeMock(httpBase, { process: proc, timeoutMs });
  return { httpBase, httpsBase: `https://127.0.0.1:${httpsPort}` };
}

export function waitForStripeMock(httpBase: string, options: Parameters<typeof waitUntil>[2] = {}): Promise<void> {
  return waitForHttp(`${httpBase}/v1/balance`, 'stripe-mock', { ...options, headers: { Authorization: `Bearer ${STRIPE_MOCK_KEY}` } });
}
