/** How the launcher and the tests run the Temporal dev server and stripe-mock, and how they know each is ready. */
import { Connection } from '@temporalio/client';
import { CUSTOMER_ID_KEY, ORDER_STATUS_KEY } from '../../workflows/contract';
import { waitForHttp, waitUntil, type WaitOptions } from './processes';

/** The custom search attributes the workflows set, registered when the dev server starts. */
export const SEARCH_ATTRIBUTE_TYPES: Record<string, 'Keyword'> = {
  [ORDER_STATUS_KEY.name]: 'Keyword',
  [CUSTOMER_ID_KEY.name]: 'Keyword',
};

/** stripe-mock accepts any test key; readiness checks and clients need one to send. */
export const STRIPE_MOCK_KEY = 'sk_test_123';

/**
 * Dynamic config the dev server always runs with. The history service reads its transfer queue
 * (the tasks that dispatch every activity and workflow task to matching) at most
 * `history.transferProcessorMaxPollRPS` times a second per shard, 20 by default; the dev server
 * has one shard, so each dispatch waited for that limiter: 30-45 ms per dispatch, two per
 * sequential activity. Measured in docs/performance.md ("The dev server's floor").
 */
export const DEV_SERVER_DYNAMIC_CONFIG: Readonly<Record<string, number>> = {
  'history.transferProcessorMaxPollRPS': 200,
};

export interface TemporalDevServerOptions {
  port: number;
  /** The Web UI's port; without one the server runs headless. */
  uiPort?: number;
  /** SQLite file that keeps workflows across restarts; without one the server keeps them in memory. */
  dbFilename?: string;
  logLevel?: 'debug' | 'info' | 'warn' | 'error' | 'never';
  /** Extra namespaces to create (with the search attributes registered in each). */
  namespaces?: readonly string[];
}

export function temporalDevServerArgs(options: TemporalDevServerOptions): string[] {
  return [
    'server', 'start-dev',
    '--ip', '127.0.0.1',
    '--port', String(options.port),
    ...(options.uiPort === undefined ? ['--headless'] : ['--ui-port', String(options.uiPort)]),
    ...(options.dbFilename ? ['--db-filename', options.dbFilename] : []),
    ...(options.namespaces ?? []).flatMap((namespace) => ['--namespace', namespace]),
    ...Object.entries(SEARCH_ATTRIBUTE_TYPES).flatMap(([name, type]) => ['--search-attribute', `${name}=${type}`]),
    ...Object.entries(DEV_SERVER_DYNAMIC_CONFIG).flatMap(([key, value]) => ['--dynamic-config-value', `${key}=${JSON.stringify(value)}`]),
    '--log-level', options.logLevel ?? 'warn',
  ];
}

export function stripeMockArgs(httpPort: number, httpsPort: number): string[] {
  return ['-http-addr', `127.0.0.1:${httpPort}`, '-https-addr', `127.0.0.1:${httpsPort}`];
}

/** Ready means the namespace answers and the search attributes are registered, not merely that the port is open. */
export async function waitForTemporal(address: string, namespace: string, options: WaitOptions = {}): Promise<void> {
  let connection: Connection | undefined;
  try {
    await waitUntil(
      `Temporal namespace "${namespace}" at ${address}`,
      async () => {
        connection ??= await Connection.connect({ address, connectTimeout: 1_000 });
        await connection.workflowService.describeNamespace({ namespace });
        const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
        return Object.keys(SEARCH_ATTRIBUTE_TYPES).every((name) => customAttributes && name in customAttributes);
      },
      options,
    );
  } finally {
    await connection?.close();
  }
}

export function waitForStripeMock(httpBase: string, options: WaitOptions = {}): Promise<void> {
  return waitForHttp(`${httpBase}/v1/balance`, 'stripe-mock', {
    ...options,
    headers: { Authorization: `Bearer ${STRIPE_MOCK_KEY}` },
  });
}
