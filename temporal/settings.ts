/**
 * Where Temporal is and how to prove who we are, read the way the Temporal CLI reads it: its
 * environment variables over a profile of its `temporal.toml` (@temporalio/envconfig), so an
 * operator's shell, the CLI and every process of the project reach the same namespace. The names
 * this project used before it read the CLI's are still honoured (docs/configuration.md).
 */
import type { TLSConfig } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import { loadClientConfigProfile, type ClientConfigProfile, type ConfigDataSource } from '@temporalio/envconfig';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
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
  /** gRPC headers on every call (TEMPORAL_GRPC_META_<NAME>, or a profile's grpc_meta). */
  metadata?: Record<string, string>;
  /** The temporal.toml profile the settings started from, when one was read: `"prod" in /path/temporal.toml`. */
  profile?: string;
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

/** gRPC headers sent on every call: TEMPORAL_GRPC_META_X_TEAM=storefront sends `x-team: storefront`. */
const GRPC_META_PREFIX = 'TEMPORAL_GRPC_META_';

/** One environment variable as given: empty or blank counts as not set (compose passes `${X:-}` through). */
interface Given {
  name: string;
  value: string | undefined;
}

/**
 * The CLI's name of each setting this project once read under another name. Both are honoured;
 * the two set to different values is refused, since either choice would connect somewhere the
 * operator may not expect.
 */
function olderNames(setting: (name: string) => Given): [cli: Given, older: Given][] {
  return [
    [setting('TEMPORAL_TLS_CLIENT_CERT_PATH'), setting('TEMPORAL_TLS_CERT_PATH')],
    [setting('TEMPORAL_TLS_CLIENT_KEY_PATH'), setting('TEMPORAL_TLS_KEY_PATH')],
    [setting('TEMPORAL_TLS_SERVER_CA_CERT_PATH'), setting('TEMPORAL_TLS_CA_PATH')],
  ];
}

/**
 * The file the CLI reads profiles from when TEMPORAL_CONFIG_FILE is not set (the same place the CLI
 * and the SDKs look: the user's configuration folder).
 */
function defaultConfigFile(env: Env): string | undefined {
  const home = env.HOME?.trim();
  const base =
    process.platform === 'darwin'
      ? home && path.join(home, 'Library', 'Application Support')
      : env.XDG_CONFIG_HOME?.trim() || (home && path.join(home, '.config'));
  return base ? path.join(base, 'temporalio', 'temporal.toml') : undefined;
}

/**
 * Reads the settings of docs/design.md "Connecting to a production Temporal": the CLI's variables
 * (and this project's older names for three of them) over the profile TEMPORAL_PROFILE names (else
 * `default`) in TEMPORAL_CONFIG_FILE (else the CLI's default file, when there is one). A half-given
 * client certificate, an unreadable file, a certificate together with an API key or a missing
 * profile is refused here, before any connection is tried, so the operator reads what to fix
 * instead of a TLS handshake error.
 */
export function temporalSettingsFromEnv(env: Env = process.env): TemporalSettings {
  const problems: string[] = [];
  const setting = (name: string): Given => ({ name, value: env[name]?.trim() || undefined });

  // The CLI's settings as the CLI would read them, the older names under the CLI's (below).
  const cliEnv: Record<string, string> = {};
  for (const { name, value } of [
    setting('TEMPORAL_ADDRESS'),
    setting('TEMPORAL_NAMESPACE'),
    setting('TEMPORAL_API_KEY'),
    setting('TEMPORAL_TLS'),
    setting('TEMPORAL_TLS_SERVER_NAME'),
    setting('TEMPORAL_TLS_CLIENT_CERT_DATA'),
    setting('TEMPORAL_TLS_CLIENT_KEY_DATA'),
    setting('TEMPORAL_TLS_SERVER_CA_CERT_DATA'),
    ...Object.keys(env)
      .filter((name) => name.startsWith(GRPC_META_PREFIX))
      .map(setting),
  ])
    if (value) cliEnv[name] = value;
  const givenAs = new Map<string, string>();
  for (const [cli, older] of olderNames(setting)) {
    if (cli.value && older.value && cli.value !== older.value)
      problems.push(
        `${cli.name}=${cli.value} and ${older.name}=${older.value} (its older name) disagree: set ${cli.name} only`,
      );
    const chosen = cli.value ?? older.value;
    if (chosen) cliEnv[cli.name] = chosen;
    givenAs.set(cli.name, cli.value ? cli.name : older.value ? older.name : cli.name);
  }
  if (['true', '1'].includes(setting('TEMPORAL_TLS_DISABLE_HOST_VERIFICATION').value ?? ''))
    problems.push(
      'TEMPORAL_TLS_DISABLE_HOST_VERIFICATION=true is not supported here: name the certificate with TEMPORAL_TLS_SERVER_NAME instead',
    );

  const profileName = setting('TEMPORAL_PROFILE').value;
  const namedFile = setting('TEMPORAL_CONFIG_FILE').value;
  const file = namedFile ?? defaultConfigFile(env);
  const fileExists = file !== undefined && existsSync(file);
  if (namedFile && !fileExists) problems.push(`TEMPORAL_CONFIG_FILE=${namedFile} cannot be read: ENOENT`);
  else if (profileName && !fileExists)
    problems.push(`TEMPORAL_PROFILE=${profileName} but there is no ${file ?? 'temporal.toml'} to read it from`);

  let profile: ClientConfigProfile = {};
  try {
    profile = loadClientConfigProfile({
      ...(profileName ? { profile: profileName } : {}),
      ...(fileExists ? { configSource: { path: file } } : { disableFile: true }),
      overrideEnvVars: cliEnv,
    });
  } catch (error) {
    const why = error instanceof TypeError ? 'it holds no [profile.<name>] table' : (error as Error).message;
    problems.push(fileExists ? `${file}: ${why}` : why);
  }
  const fromFile = (key: string) => `${key} of profile "${profileName ?? 'default'}" in ${file}`;

  /** The setting a piece of TLS material came from, as the operator set it. */
  const origin = (pathSetting: Given, data: Given, tomlKey: string): string =>
    cliEnv[pathSetting.name] ? givenAs.get(pathSetting.name)! : data.value ? data.name : fromFile(`tls.${tomlKey}`);
  const read = (source: ConfigDataSource | undefined, label: string): Buffer | undefined => {
    if (!source) return undefined;
    if ('data' in source) return Buffer.from(source.data);
    try {
      return readFileSync(source.path);
    } catch (error) {
      const where = label.startsWith('TEMPORAL_') ? `${label}=${source.path}` : `${source.path} (${label})`;
      problems.push(`${where} cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
      return undefined;
    }
  };

  const tlsSettings = profile.tls ?? {};
  const [certPath, keyPath, caPath] = olderNames(setting).map(([cli]) => cli) as [Given, Given, Given];
  const certLabel = origin(certPath, setting('TEMPORAL_TLS_CLIENT_CERT_DATA'), 'client_cert_path');
  const keyLabel = origin(keyPath, setting('TEMPORAL_TLS_CLIENT_KEY_DATA'), 'client_key_path');
  const caLabel = origin(caPath, setting('TEMPORAL_TLS_SERVER_CA_CERT_DATA'), 'server_ca_cert_path');
  const certGiven = tlsSettings.clientCert !== undefined;
  const keyGiven = tlsSettings.clientKey !== undefined;
  if (certGiven !== keyGiven) {
    problems.push(
      certGiven
        ? `${certLabel} is set but ${counterpart(certLabel)} is not: a client certificate needs its private key`
        : `${keyLabel} is set but ${counterpart(keyLabel)} is not: a private key needs its client certificate`,
    );
  }
  const crt = read(tlsSettings.clientCert, certLabel);
  const key = read(tlsSettings.clientKey, keyLabel);
  const ca = read(tlsSettings.serverCACert, caLabel);
  const serverName = tlsSettings.serverName;
  const apiKey = profile.apiKey;
  const apiKeyLabel = setting('TEMPORAL_API_KEY').value ? 'TEMPORAL_API_KEY' : fromFile('api_key');
  if (apiKey && (certGiven || keyGiven))
    problems.push(
      `${apiKeyLabel} and a client certificate (${certGiven ? certLabel : keyLabel}) are both set: use one way to authenticate`,
    );
  const tlsOff = tlsSettings.disabled === true;
  if (tlsOff && (apiKey || certGiven || ca))
    problems.push(
      `TLS is turned off (${setting('TEMPORAL_TLS').value ? 'TEMPORAL_TLS' : fromFile('tls.disabled')}) but ${apiKey ? `${apiKeyLabel}, which is never sent in clear,` : 'a certificate'} is set`,
    );

  let codec: AesGcmPayloadCodec | undefined;
  try {
    codec = payloadCodecFromEnv(env);
  } catch (error) {
    problems.push((error as Error).message);
  }
  if (problems.length > 0) throw new TemporalSettingsError(problems);

  // TLS is on as soon as anything about it (or an API key, which is never sent in clear) is given.
  const tlsWanted = !tlsOff && (profile.tls !== undefined || apiKey !== undefined);
  const tls: TLSConfig | undefined = tlsWanted
    ? {
        ...(crt && key ? { clientCertPair: { crt, key } } : {}),
        ...(ca ? { serverRootCACertificate: ca } : {}),
        ...(serverName ? { serverNameOverride: serverName } : {}),
      }
    : undefined;
  const metadata = profile.grpcMeta && Object.keys(profile.grpcMeta).length > 0 ? profile.grpcMeta : undefined;
  return {
    address: profile.address ?? DEFAULT_TEMPORAL_ADDRESS,
    namespace: profile.namespace ?? DEFAULT_TEMPORAL_NAMESPACE,
    tls,
    apiKey,
    ...(metadata ? { metadata } : {}),
    ...(fileExists && profileIsUsed(file, profileName) ? { profile: `"${profileName ?? 'default'}" in ${file}` } : {}),
    codec,
    dataConverter: codec ? { payloadCodecs: [codec] } : undefined,
  };
}

/** The other half of a client certificate pair, under the same family of names as the half given. */
function counterpart(label: string): string {
  const swap: Record<string, string> = { CERT: 'KEY', KEY: 'CERT', cert: 'key', key: 'cert' };
  return label.replace(/CERT|KEY|cert|key/, (half) => swap[half]!);
}

/** Whether the settings came partly from the file: a named profile, or a default profile that sets something. */
function profileIsUsed(file: string, profileName: string | undefined): boolean {
  if (profileName) return true;
  try {
    return Object.keys(loadClientConfigProfile({ configSource: { path: file }, disableEnv: true })).length > 0;
  } catch {
    return false;
  }
}
