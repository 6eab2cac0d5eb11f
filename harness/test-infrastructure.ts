/** Test infrastructure shared by a whole Jest run: one in-memory Temporal dev server, one stripe-mock and one Mailpit, on free ports. */
import { STACK_NAMESPACE, startStack } from './stack';

export { freePort } from '../devstack/ports';
export { waitForHttp, waitForPort } from '../devstack/waits';
export { STRIPE_MOCK_KEY } from '../devstack/dev-servers';

export const TEMPORAL_NAMESPACE = STACK_NAMESPACE;

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
  /**
   * Mailpit's SMTP and its HTTP API, where tests read the mail. Not SMTP_URL: an API a test starts
   * sends mail (and so asks new accounts to verify their address) only when the test says so.
   */
  MAILPIT_SMTP_URL: string;
  MAILPIT_HTTP_BASE: string;
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

/** A dev server in memory and headless (nothing to write, nothing to clean, ready in about a second), stripe-mock and Mailpit. */
export async function startTestInfrastructure(options: TestInfrastructureOptions = {}): Promise<TestInfrastructure> {
  const stack = await startStack({
    temporal: { namespaces: [...testNamespaces(), VERSIONING_DRILL_NAMESPACE] },
    mail: true,
    verbose: options.verbose ?? process.env.STOREFRONT_TEST_VERBOSE === 'true',
    startTimeoutMs: options.startTimeoutMs,
  });
  return {
    env: {
      TEMPORAL_ADDRESS: stack.temporal.address,
      TEMPORAL_NAMESPACE,
      STRIPE_API_BASE: stack.stripe.apiBase,
      STRIPE_MOCK_HTTPS_BASE: stack.stripe.httpsBase,
      TEMPORAL_CLI_PATH: stack.temporal.cli,
      STRIPE_MOCK_PATH: stack.stripe.binary,
      MAILPIT_SMTP_URL: stack.mail!.smtpUrl,
      MAILPIT_HTTP_BASE: stack.mail!.httpBase,
    },
    stop: () => stack.stop(),
  };
}
