import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { describeTemporal, TemporalSettingsError, temporalSettingsFromEnv } from './connection';

describe('Temporal connection settings', () => {
  let dir: string;
  let cert: string;
  let key: string;
  let ca: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'temporal-settings-'));
    [cert, key, ca] = ['client.pem', 'client.key', 'ca.pem'].map((name) => path.join(dir, name)) as [
      string,
      string,
      string,
    ];
    writeFileSync(cert, 'CERT');
    writeFileSync(key, 'KEY');
    writeFileSync(ca, 'CA');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is the local dev server in plaintext, unencrypted, when nothing is set', () => {
    const settings = temporalSettingsFromEnv({});
    expect(settings).toEqual({
      address: '127.0.0.1:7233',
      namespace: 'default',
      tls: undefined,
      apiKey: undefined,
      codec: undefined,
      dataConverter: undefined,
    });
    expect(describeTemporal(settings)).toBe('127.0.0.1:7233 (namespace default, plaintext)');
  });

  it('reads mTLS from the certificate, key, CA and server name', () => {
    const settings = temporalSettingsFromEnv({
      TEMPORAL_ADDRESS: 'temporal.internal:7233',
      TEMPORAL_NAMESPACE: 'shop',
      TEMPORAL_TLS_CERT_PATH: cert,
      TEMPORAL_TLS_KEY_PATH: key,
      TEMPORAL_TLS_CA_PATH: ca,
      TEMPORAL_TLS_SERVER_NAME: 'frontend.internal',
    });
    expect(settings.tls).toEqual({
      clientCertPair: { crt: Buffer.from('CERT'), key: Buffer.from('KEY') },
      serverRootCACertificate: Buffer.from('CA'),
      serverNameOverride: 'frontend.internal',
    });
    expect(describeTemporal(settings)).toBe('temporal.internal:7233 (namespace shop, mTLS)');
  });

  it('turns TLS on for an API key, and never shows the key', () => {
    const settings = temporalSettingsFromEnv({
      TEMPORAL_ADDRESS: 'eu-west-1.aws.api.temporal.io:7233',
      TEMPORAL_NAMESPACE: 'shop.a1b2c',
      TEMPORAL_API_KEY: 'secret-key',
    });
    expect(settings).toMatchObject({ tls: {}, apiKey: 'secret-key' });
    expect(describeTemporal(settings)).not.toContain('secret-key');
  });

  it('refuses a half-given, unreadable or conflicting setting, naming every problem at once', () => {
    const attempt = () =>
      temporalSettingsFromEnv({
        TEMPORAL_TLS_CERT_PATH: cert,
        TEMPORAL_TLS_CA_PATH: path.join(dir, 'missing.pem'),
        TEMPORAL_API_KEY: 'k',
        PAYLOAD_ENCRYPTION_KEYS: 'nonsense',
      });
    expect(attempt).toThrow(TemporalSettingsError);
    const { problems } = (() => {
      try {
        attempt();
      } catch (error) {
        return error as TemporalSettingsError;
      }
      throw new Error('expected a TemporalSettingsError');
    })();
    expect(problems).toEqual([
      expect.stringMatching(/TEMPORAL_TLS_CERT_PATH is set but TEMPORAL_TLS_KEY_PATH is not/),
      expect.stringMatching(/TEMPORAL_TLS_CA_PATH=.*missing\.pem cannot be read: ENOENT/),
      expect.stringMatching(/TEMPORAL_API_KEY and a client certificate .* are both set/),
      expect.stringMatching(/PAYLOAD_ENCRYPTION_KEYS entry 1/),
    ]);
    expect(() => temporalSettingsFromEnv({ TEMPORAL_TLS_KEY_PATH: key })).toThrow(
      /TEMPORAL_TLS_KEY_PATH is set but TEMPORAL_TLS_CERT_PATH is not/,
    );
  });

  it('puts the payload codec on every client and worker when PAYLOAD_ENCRYPTION_KEYS is set', () => {
    const settings = temporalSettingsFromEnv({ PAYLOAD_ENCRYPTION_KEYS: `k1:${randomBytes(32).toString('base64')}` });
    expect(settings.codec?.keyId).toBe('k1');
    expect(settings.dataConverter?.payloadCodecs).toEqual([settings.codec]);
  });
});
