/**
 * The one way every process reaches Temporal: the workers, the API, the ops CLI, the benchmarks
 * and the tests. A local dev server needs only an address; a self-hosted cluster adds mTLS, and
 * Temporal Cloud mTLS or an API key. The same settings also decide the payload codec
 * (temporal/payload-codec.ts) and tracing (temporal/tracing.ts), so a client that can reach the
 * namespace can also read what the workers wrote there.
 */
import { Client, Connection, type ClientOptions, type ConnectionOptions, type TLSConfig } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import { NativeConnection, type NativeConnectionOptions } from '@temporalio/worker';
import { readFileSync } from 'node:fs';
import { payloadCodecFromEnv, type AesGcmPayloadCodec } from './payload-codec';

type Env = Record<string, string | undefined>;

export const DEFAULT_TEMPORAL_ADDRESS = '127.0.0.1:7233';
export const DEFAULT_TEMPORAL_NAMESPACE = 'default';

/** Where Temporal is and how to prove who we are; every field but address and namespace is optional. */
export interface TemporalSettings {
  address: string;
  namespace: string;
  /** Undefined: plain gRPC (the local dev server). */
  tls: TLSConfig | undefined;
  /** Temporal Cloud's API key, sent as a bearer token over TLS. */
  apiKey: string | undefined;
  /** The codec that encrypts payloads; undefined when PAYLOAD_ENCRYPTION_KEYS is not set. */
  codec: AesGcmPayloadCodec | undefined;
  /** The same codec as clients and workers take it. */
  dataConverter: DataConverter | undefined;
}

/** A setting that cannot work, with every problem named at once. */
export class TemporalSettingsError extends Error {
  constructor(readonly problems: string[]) {
    super(`Temporal connection settings are invalid:\n  - ${problems.join('\n  - ')}`);
    this.name = 'TemporalSettingsError';
  }
}

export const TEMPORAL_SETTING_NAMES = [
  'TEMPORAL_ADDRESS',
  'TEMPORAL_NAMESPACE',
  'TEMPORAL_TLS_CERT_PATH',
  'TEMPORAL_TLS_KEY_PATH',
  'TEMPORAL_TLS_CA_PATH',
  'TEMPORAL_TLS_SERVER_NAME',
  'TEMPORAL_API_KEY',
  'PAYLOAD_ENCRYPTION_KEYS',
] as const;

/**
 * Reads the settings of docs/design.md "Connecting to a production Temporal". A half-given client
 * certificate, an unreadable file or a certificate together with an API key is refused here,
 * before any connection is tried, so the operator reads what to fix instead of a TLS handshake error.
 */
export function temporalSettingsFromEnv(env: Env = process.env): TemporalSettings {
  const problems: string[] = [];
  const value = (name: string): string | undefined => env[name]?.trim() || undefined;
  const read = (name: string): Buffer | undefined => {
    const file = value(name);
    if (!file) return undefined;
    try {
      return readFileSync(file);
    } catch (error) {
      problems.push(
        `${name}=${file} cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
      );
      return undefined;
    }
  };

  const certGiven = value('TEMPORAL_TLS_CERT_PATH') !== undefined;
  const keyGiven = value('TEMPORAL_TLS_KEY_PATH') !== undefined;
  if (certGiven !== keyGiven) {
    problems.push(
      certGiven
        ? 'TEMPORAL_TLS_CERT_PATH is set but TEMPORAL_TLS_KEY_PATH is not: a client certificate needs its private key'
        : 'TEMPORAL_TLS_KEY_PATH is set but TEMPORAL_TLS_CERT_PATH is not: a private key needs its client certificate',
    );
  }
  const crt = read('TEMPORAL_TLS_CERT_PATH');
  const key = read('TEMPORAL_TLS_KEY_PATH');
  const ca = read('TEMPORAL_TLS_CA_PATH');
  const serverName = value('TEMPORAL_TLS_SERVER_NAME');
  const apiKey = value('TEMPORAL_API_KEY');
  if (apiKey && (certGiven || keyGiven)) {
    problems.push(
      'TEMPORAL_API_KEY and a client certificate (TEMPORAL_TLS_CERT_PATH/KEY_PATH) are both set: use one way to authenticate',
    );
  }

  let codec: AesGcmPayloadCodec | undefined;
  try {
    codec = payloadCodecFromEnv(env);
  } catch (error) {
    problems.push((error as Error).message);
  }
  if (problems.length > 0) throw new TemporalSettingsError(problems);

  // TLS is on as soon as anything about it (or an API key, which is never sent in clear) is given.
  const tlsWanted = certGiven || ca !== undefined || serverName !== undefined || apiKey !== undefined;
  const tls: TLSConfig | undefined = tlsWanted
    ? {
        ...(crt && key ? { clientCertPair: { crt, key } } : {}),
        ...(ca ? { serverRootCACertificate: ca } : {}),
        ...(serverName ? { serverNameOverride: serverName } : {}),
      }
    : undefined;
  return {
    address: value('TEMPORAL_ADDRESS') ?? DEFAULT_TEMPORAL_ADDRESS,
    namespace: value('TEMPORAL_NAMESPACE') ?? DEFAULT_TEMPORAL_NAMESPACE,
    tls,
    apiKey,
    codec,
    dataConverter: codec ? { payloadCodecs: [codec] } : undefined,
  };
}

/** What `Connection` and `NativeConnection` share: address, TLS, API key. */
function transport(settings: TemporalSettings): { address: string; tls?: TLSConfig; apiKey?: string } {
  return {
    address: settings.address,
    ...(settings.tls ? { tls: settings.tls } : {}),
    ...(settings.apiKey ? { apiKey: settings.apiKey } : {}),
  };
}

/** A client connection (API, ops, tests), connected now. */
export function connectClient(
  settings: TemporalSettings,
  options: Omit<ConnectionOptions, 'address' | 'tls' | 'apiKey'> = {},
): Promise<Connection> {
  return Connection.connect({ ...options, ...transport(settings) });
}

/** A client connection that connects on first use: the API starts (and /healthz answers) before Temporal does. */
export function lazyClient(
  settings: TemporalSettings,
  options: Omit<ConnectionOptions, 'address' | 'tls' | 'apiKey'> = {},
): Connection {
  return Connection.lazy({ ...options, ...transport(settings) });
}

/** The workers' connection (Core's, in Rust). */
export function connectWorker(
  settings: TemporalSettings,
  options: Omit<NativeConnectionOptions, 'address' | 'tls' | 'apiKey'> = {},
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
  return `${settings.address} (namespace ${settings.namespace}, ${auth}${settings.dataConverter ? ', payloads encrypted' : ''})`;
}
