/**
 * The one way every process reaches Temporal: the workers, the API, the ops CLI, the benchmarks
 * and the tests. A local dev server needs only an address; a self-hosted cluster adds mTLS, and
 * Temporal Cloud mTLS or an API key. The same settings also decide the payload codec
 * (temporal/payload-codec.ts) and tracing (temporal/tracing.ts), so a client that can reach the
 * namespace can also read what the workers wrote there.
 */
import { Client, Connection, type ClientOptions, type ConnectionOptions, type TLSConfig } from '@temporalio/client';
import { NativeConnection, type NativeConnectionOptions } from '@temporalio/worker';
import type { TemporalSettings } from './settings';

export {
  DEFAULT_TEMPORAL_ADDRESS,
  DEFAULT_TEMPORAL_NAMESPACE,
  TemporalSettingsError,
  temporalSettingsFromEnv,
  type TemporalSettings,
} from './settings';

/** What `Connection` and `NativeConnection` share: address, TLS, API key, gRPC headers. */
function transport(settings: TemporalSettings): {
  address: string;
  tls?: TLSConfig;
  apiKey?: string;
  metadata?: Record<string, string>;
} {
  return {
    address: settings.address,
    ...(settings.tls ? { tls: settings.tls } : {}),
    ...(settings.apiKey ? { apiKey: settings.apiKey } : {}),
    ...(settings.metadata ? { metadata: settings.metadata } : {}),
  };
}

/** A client connection (API, ops, tests), connected now. */
export function connectClient(
  settings: TemporalSettings,
  options: Omit<ConnectionOptions, 'address' | 'tls' | 'apiKey' | 'metadata'> = {},
): Promise<Connection> {
  return Connection.connect({ ...options, ...transport(settings) });
}

/** A client connection that connects on first use: the API starts (and /healthz answers) before Temporal does. */
export function lazyClient(
  settings: TemporalSettings,
  options: Omit<ConnectionOptions, 'address' | 'tls' | 'apiKey' | 'metadata'> = {},
): Connection {
  return Connection.lazy({ ...options, ...transport(settings) });
}

/** The workers' connection (Core's, in Rust). */
export function connectWorker(
  settings: TemporalSettings,
  options: Omit<NativeConnectionOptions, 'address' | 'tls' | 'apiKey' | 'metadata'> = {},
): Promise<NativeConnection> {
  return NativeConnection.connect({ ...options, ...transport(settings) });
}

/**
 * A Client in the settings' namespace, with the payload codec when encryption is on. `extra` adds
 * what the caller needs (identity, tracing interceptors); the codec cannot be left out by mistake.
 */
export function createClient(
  connection: Connection,
  settings: TemporalSettings,
  extra: Omit<ClientOptions, 'connection' | 'namespace' | 'dataConverter'> = {},
): Client {
  return new Client({
    ...extra,
    connection,
    namespace: settings.namespace,
    ...(settings.dataConverter ? { dataConverter: settings.dataConverter } : {}),
  });
}

/** How the settings read in a log line: never the API key or a key's bytes. */
export function describeTemporal(settings: TemporalSettings): string {
  const auth = settings.apiKey
    ? 'API key over TLS'
    : settings.tls?.clientCertPair
      ? 'mTLS'
      : settings.tls
        ? 'TLS'
        : 'plaintext';
  return `${settings.address} (namespace ${settings.namespace}, ${auth}${settings.dataConverter ? ', payloads encrypted' : ''}${settings.profile ? `, profile ${settings.profile}` : ''})`;
}
