/** How the launcher and the tests run the Temporal dev server, stripe-mock and Mailpit, and how they know each is ready. */
import type { Connection } from '@temporalio/client';
import { connectClient, temporalSettingsFromEnv } from '../temporal/connection';
import { CUSTOMER_ID_KEY, ORDER_STATUS_KEY } from '../workflows/contract';
import { waitForHttp, waitUntil, type WaitOptions } from './waits';

/** The custom search attributes the workflows set, registered when the dev server starts. */
export const SEARCH_ATTRIBUTE_TYPES: Record<string, 'Keyword'> = {
  [ORDER_STATUS_KEY.name]: 'Keyword',
  [CUSTOMER_ID_KEY.name]: 'Keyword',
};

/** stripe-mock accepts any test key; readiness checks and clients need one to send. */
export const STRIPE_MOCK_KEY = 'sk_test_123';

/**
 * Dynamic config the dev server always runs with. The history service reads its transfer queue
 * (the tasks that hand every activity and workflow task to matching) at most
 * `history.transferProcessorMaxPollRPS` times a second per shard, 20 by default, and the dev
 * server has a single shard: each dispatch waited for that limiter, 30-36 ms, two per sequential
 * activity. 200 (one read per 5 ms at most) takes the wait away. Measured in docs/performance.md
 * ("The dev server's floor").
 */
export const DEV_SERVER_DYNAMIC_CONFIG: Readonly<Record<string, number>> = {
  'history.transferProcessorMaxPollRPS': 200,
};

/**
 * SQLite pragmas for a dev server kept in a file. SQLite's defaults (rollback journal,
 * synchronous=FULL) sync the disk several times per transaction, and every dispatch writes:
 * 23-27 ms per dispatch on this shared disk. WAL with synchronous=NORMAL syncs only at
 * checkpoints; a killed server loses nothing, a power cut may lose the last transactions (never
 * the file's consistency): right for a development server.
 */
export const DEV_SERVER_SQLITE_PRAGMAS: Readonly<Record<string, string>> = {
  journal_mode: 'wal',
  synchronous: 'normal',
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
  /** The API's codec endpoint (`http://127.0.0.1:3000/codec`), for the Web UI to show encrypted payloads decoded. */
  uiCodecEndpoint?: string;
  /** SQLite pragmas (`name=value`) that add to or replace DEV_SERVER_SQLITE_PRAGMAS (the benchmarks compare settings). */
  sqlitePragmas?: readonly string[];
  /** Dynamic config (`key=value`, the value as JSON) that adds to or replaces DEV_SERVER_DYNAMIC_CONFIG. */
  dynamicConfig?: readonly string[];
}

/** `name=value` settings over defaults: a later value for the same name wins. */
function settingsOver(defaults: Readonly<Record<string, unknown>>, extra: readonly string[] = []): string[] {
  const merged = new Map(
    Object.entries(defaults).map(([name, value]) => [name, typeof value === 'string' ? value : JSON.stringify(value)]),
  );
  for (const setting of extra) {
    const at = setting.indexOf('=');
    merged.set(setting.slice(0, at), setting.slice(at + 1));
  }
  return [...merged].map(([name, value]) => `${name}=${value}`);
}

export function temporalDevServerArgs(options: TemporalDevServerOptions): string[] {
  return [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--port',
    String(options.port),
    ...(options.uiPort === undefined ? ['--headless'] : ['--ui-port', String(options.uiPort)]),
    ...(options.uiPort !== undefined && options.uiCodecEndpoint
      ? ['--ui-codec-endpoint', options.uiCodecEndpoint]
      : []),
    ...(options.dbFilename
      ? [
          '--db-filename',
          options.dbFilename,
          ...settingsOver(DEV_SERVER_SQLITE_PRAGMAS, options.sqlitePragmas).flatMap((pragma) => [
            '--sqlite-pragma',
            pragma,
          ]),
        ]
      : []),
    ...(options.namespaces ?? []).flatMap((namespace) => ['--namespace', namespace]),
    ...Object.entries(SEARCH_ATTRIBUTE_TYPES).flatMap(([name, type]) => ['--search-attribute', `${name}=${type}`]),
    ...settingsOver(DEV_SERVER_DYNAMIC_CONFIG, options.dynamicConfig).flatMap((value) => [
      '--dynamic-config-value',
      value,
    ]),
    '--log-level',
    options.logLevel ?? 'warn',
  ];
}

export function stripeMockArgs(httpPort: number, httpsPort: number): string[] {
  return ['-http-addr', `127.0.0.1:${httpPort}`, '-https-addr', `127.0.0.1:${httpsPort}`];
}

/**
 * Mailpit: SMTP on `smtpPort`, the web UI and its HTTP API (`/api/v1/messages`) on `httpPort`,
 * messages kept in memory (a restart empties the mailbox), never asking GitHub for a newer release.
 */
export function mailpitArgs(smtpPort: number, httpPort: number): string[] {
  return ['--smtp', `127.0.0.1:${smtpPort}`, '--listen', `127.0.0.1:${httpPort}`, '--disable-version-check', '--quiet'];
}

export function waitForMailpit(httpBase: string, options: WaitOptions = {}): Promise<void> {
  return waitForHttp(`${httpBase}/readyz`, 'Mailpit', options);
}

/** Ready means the namespace answers and the search attributes are registered, not merely that the port is open. */
export async function waitForTemporal(address: string, namespace: string, options: WaitOptions = {}): Promise<void> {
  let connection: Connection | undefined;
  try {
    await waitUntil(
      `Temporal namespace "${namespace}" at ${address}`,
      async () => {
        // A dev server on this machine: plaintext, whatever TLS settings the environment holds for another Temporal.
        connection ??= await connectClient(
          temporalSettingsFromEnv({ TEMPORAL_ADDRESS: address, TEMPORAL_NAMESPACE: namespace }),
          { connectTimeout: 1_000 },
        );
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
