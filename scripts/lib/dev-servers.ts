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

export interface TemporalDevServerOptions {
  port: number;
  /** The Web UI's port; without one the server runs headless. */
  uiPort?: number;
  /** SQLite file that keeps workflows across restarts; without one the server keeps them in memory. */
  dbFilename?: string;
  logLevel?: 'debug' | 'info' | 'warn' | 'error' | 'never';
  /** Extra namespaces to create (with the search attributes registered in each). */
  namespaces?: readonly string[];
  /** The API's codec endpoint (`http://127.0.0.1:3000/codec`), for the Web UI to show encrypted payloads decoded. */
  uiCodecEndpoint?: string;
}

export function temporalDevServerArgs(options: TemporalDevServerOptions): string[] {
  return [
    'server', 'start-dev',
    '--ip', '127.0.0.1',
    '--port', String(options.port),
    ...(options.uiPort === undefined ? ['--headless'] : ['--ui-port', String(options.uiPort)]),
    ...(options.uiPort !== undefined && options.uiCodecEndpoint ? ['--ui-codec-endpoint', options.uiCodecEndpoint] : []),
    ...(options.dbFilename ? ['--db-filename', options.dbFilename] : []),
    ...(options.namespaces ?? []).flatMap((namespace) => ['--namespace', namespace]),
    ...Object.entries(SEARCH_ATTRIBUTE_TYPES).flatMap(([name, type]) => ['--search-attribute', `${name}=${type}`]),
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
