import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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

  it("reads mTLS under the Temporal CLI's names", () => {
    const settings = temporalSettingsFromEnv({
      TEMPORAL_ADDRESS: 'temporal.internal:7233',
      TEMPORAL_NAMESPACE: 'shop',
      TEMPORAL_TLS_CLIENT_CERT_PATH: cert,
      TEMPORAL_TLS_CLIENT_KEY_PATH: key,
      TEMPORAL_TLS_SERVER_CA_CERT_PATH: ca,
      TEMPORAL_TLS_SERVER_NAME: 'frontend.internal',
    });
    expect(settings.tls).toEqual({
      clientCertPair: { crt: Buffer.from('CERT'), key: Buffer.from('KEY') },
      serverRootCACertificate: Buffer.from('CA'),
      serverNameOverride: 'frontend.internal',
    });
    expect(describeTemporal(settings)).toBe('temporal.internal:7233 (namespace shop, mTLS)');
  });

  it('still reads mTLS under the older names, alone or beside the same value under the CLI name', () => {
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
    expect(
      temporalSettingsFromEnv({
        TEMPORAL_TLS_CERT_PATH: cert,
        TEMPORAL_TLS_CLIENT_CERT_PATH: cert,
        TEMPORAL_TLS_KEY_PATH: key,
      }).tls,
    ).toEqual({ clientCertPair: { crt: Buffer.from('CERT'), key: Buffer.from('KEY') } });
  });

  it('refuses a CLI name and its older name set to different files, naming both', () => {
    expect(() =>
      temporalSettingsFromEnv({
        TEMPORAL_TLS_CLIENT_CERT_PATH: cert,
        TEMPORAL_TLS_CERT_PATH: ca,
        TEMPORAL_TLS_CLIENT_KEY_PATH: key,
      }),
    ).toThrow(
      `TEMPORAL_TLS_CLIENT_CERT_PATH=${cert} and TEMPORAL_TLS_CERT_PATH=${ca} (its older name) disagree: set TEMPORAL_TLS_CLIENT_CERT_PATH only`,
    );
  });

  it('counts a blank setting as not set', () => {
    expect(
      temporalSettingsFromEnv({ TEMPORAL_ADDRESS: ' ', TEMPORAL_TLS_CERT_PATH: '', TEMPORAL_API_KEY: '' }),
    ).toMatchObject({
      address: '127.0.0.1:7233',
      tls: undefined,
      apiKey: undefined,
    });
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

  describe('temporal.toml profiles, as the CLI reads them', () => {
    const toml = (body: string, name = 'temporal.toml') => {
      const file = path.join(dir, name);
      writeFileSync(file, body);
      return file;
    };

    it('reads the profile TEMPORAL_PROFILE names, with the environment over it', () => {
      const file = toml(
        [
          '[profile.default]',
          'address = "127.0.0.1:7233"',
          '[profile.prod]',
          'address = "prod.internal:7233"',
          'namespace = "shop-prod"',
          '[profile.prod.tls]',
          `client_cert_path = "${cert}"`,
          `client_key_path = "${key}"`,
          `server_ca_cert_path = "${ca}"`,
          '[profile.prod.grpc_meta]',
          'x-team = "storefront"',
        ].join('\n'),
      );
      const settings = temporalSettingsFromEnv({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'prod' });
      expect(settings).toMatchObject({
        address: 'prod.internal:7233',
        namespace: 'shop-prod',
        tls: {
          clientCertPair: { crt: Buffer.from('CERT'), key: Buffer.from('KEY') },
          serverRootCACertificate: Buffer.from('CA'),
        },
        metadata: { 'x-team': 'storefront' },
      });
      expect(describeTemporal(settings)).toBe(
        `prod.internal:7233 (namespace shop-prod, mTLS, profile "prod" in ${file})`,
      );
      // The environment wins over the file, an older name too.
      expect(
        temporalSettingsFromEnv({
          TEMPORAL_CONFIG_FILE: file,
          TEMPORAL_PROFILE: 'prod',
          TEMPORAL_NAMESPACE: 'shop-staging',
          TEMPORAL_TLS_CA_PATH: cert,
        }),
      ).toMatchObject({
        address: 'prod.internal:7233',
        namespace: 'shop-staging',
        tls: { serverRootCACertificate: Buffer.from('CERT') },
      });
    });

    it("reads the default profile of the CLI's own file when nothing names one", () => {
      const configHome = path.join(dir, 'config-home');
      mkdirSync(path.join(configHome, 'temporalio'), { recursive: true });
      writeFileSync(
        path.join(configHome, 'temporalio', 'temporal.toml'),
        '[profile.default]\naddress = "cloud.example:7233"\nnamespace = "shop.a1b2c"\napi_key = "from-the-file"\n',
      );
      expect(temporalSettingsFromEnv({ XDG_CONFIG_HOME: configHome })).toMatchObject({
        address: 'cloud.example:7233',
        namespace: 'shop.a1b2c',
        apiKey: 'from-the-file',
        tls: {},
      });
    });

    it('refuses a missing file or profile, a half pair from the file and TLS turned off under an API key', () => {
      const file = toml(`[profile.half.tls]\nclient_cert_path = "${cert}"\n`, 'half.toml');
      const problems = (env: Record<string, string>) => {
        try {
          temporalSettingsFromEnv(env);
        } catch (error) {
          return (error as TemporalSettingsError).problems;
        }
        throw new Error('expected a TemporalSettingsError');
      };
      expect(problems({ TEMPORAL_CONFIG_FILE: path.join(dir, 'nosuch.toml') })).toEqual([
        `TEMPORAL_CONFIG_FILE=${path.join(dir, 'nosuch.toml')} cannot be read: ENOENT`,
      ]);
      expect(problems({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'nosuch' })).toEqual([
        expect.stringContaining(`${file}: Profile 'nosuch' not found`),
      ]);
      expect(problems({ TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'half' })).toEqual([
        `tls.client_cert_path of profile "half" in ${file} is set but tls.client_key_path of profile "half" in ${file} is not: a client certificate needs its private key`,
      ]);
      expect(problems({ TEMPORAL_TLS_DISABLE_HOST_VERIFICATION: '1' })).toEqual([
        expect.stringContaining('TEMPORAL_TLS_DISABLE_HOST_VERIFICATION=true is not supported here'),
      ]);
      expect(problems({ TEMPORAL_API_KEY: 'k', TEMPORAL_TLS: 'false' })).toEqual([
        'TLS is turned off (TEMPORAL_TLS) but TEMPORAL_API_KEY, which is never sent in clear, is set',
      ]);
    });
  });

  it('puts the payload codec on every client and worker when PAYLOAD_ENCRYPTION_KEYS is set', () => {
    const settings = temporalSettingsFromEnv({ PAYLOAD_ENCRYPTION_KEYS: `k1:${randomBytes(32).toString('base64')}` });
    expect(settings.codec?.keyId).toBe('k1');
    expect(settings.dataConverter?.payloadCodecs).toEqual([settings.codec]);
  });
});
