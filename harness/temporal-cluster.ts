/**
 * A real Temporal cluster on this machine, the way production runs one: the Temporal server
 * (v1.29.1, built from the Go module proxy into the tool cache) with PostgreSQL persistence and
 * SQL visibility in databases of its own run, its four services (frontend, history, matching,
 * worker) as separate processes, and mTLS on the frontend with certificates made for the run.
 * The cluster tier (`*.cluster.test.ts`), the benchmarks and `npm run cluster` start it here.
 *
 * `layout: 'one-process'` is the shape a small shop runs instead: the same server, configuration and
 * databases, with all four services in one process; `tuning` sets what the server's own
 * configuration allows (shards, connection pools, mTLS, dynamic config) for the benchmarks to weigh.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client as PgClient } from 'pg';
import { LOCAL_POSTGRES_URL } from '../lib/config';
import { quoteIdentifier } from '../devstack/provision';
import { prepareNamespace } from '../ops/orders';
import { connectClient, temporalSettingsFromEnv, type TemporalSettings } from '../temporal/connection';
import { ensureTool, findGo, TOOL_PINS } from '../devstack/tools';
import { freePort } from '../devstack/ports';
import { waitForPort, waitUntil } from '../devstack/waits';
import { Supervisor, type SupervisedProcess } from '../devstack/supervisor';

const run = promisify(execFile);

export const CLUSTER_SERVICES = ['history', 'matching', 'frontend', 'worker'] as const;
export type ClusterService = (typeof CLUSTER_SERVICES)[number];

/** The name the frontend's certificate is issued to; clients send it as TEMPORAL_TLS_SERVER_NAME. */
export const FRONTEND_SERVER_NAME = 'temporal-frontend.storefront.test';

export interface ClusterCertificates {
  dir: string;
  caCert: string;
  /** The client certificate (and key) of the storefront's workers, API and operators. */
  clientCert: string;
  clientKey: string;
}

export interface TemporalCluster {
  address: string;
  namespace: string;
  certificates: ClusterCertificates;
  /** The environment a storefront process needs to reach the cluster over mTLS. */
  env: Record<string, string>;
  /** The same, read by the connection factory (the codec added when `encryptionKeys` is given). */
  settings(extra?: { PAYLOAD_ENCRYPTION_KEYS?: string }): TemporalSettings;
  /** The visibility database, where the cluster keeps search attributes. */
  visibilityDatabaseUrl: string;
  /** Its two databases; PostgreSQL's backends serving them carry the name in their process title. */
  databases: { main: string; visibility: string };
  /** The server's running processes (one in the one-process layout), for CPU accounting. */
  pids(): number[];
  /** SIGKILLs one service's process, as a crash would (in the one-process layout, the whole server). */
  kill(service: ClusterService): Promise<void>;
  /** Starts a killed service again with the same configuration. */
  restart(service: ClusterService): Promise<void>;
  stop(): Promise<void>;
}

/** How the server's services are laid out in processes. */
export const CLUSTER_LAYOUTS = ['services', 'one-process'] as const;
export type ClusterLayout = (typeof CLUSTER_LAYOUTS)[number];

/** What the server's own configuration lets an operator tune; every field defaults to the cluster tier's setting. */
export interface ServerTuning {
  /** persistence.numHistoryShards (default 4): fixed for a database's life, so a fresh database per setting. */
  numHistoryShards?: number;
  /** The main store's pool (default 10 and 10); the visibility store keeps 4. */
  maxConns?: number;
  maxIdleConns?: number;
  /** mTLS on the frontend (default true). Off, clients speak plaintext gRPC. */
  mtls?: boolean;
  /** Dynamic-config keys set for every namespace and task queue, beside the ones the checkout needs. */
  dynamicConfig?: Record<string, number | boolean | string>;
}

export interface TemporalClusterOptions {
  namespace?: string;
  /** 'services' (default): four processes; 'one-process': one process serving all four. */
  layout?: ClusterLayout;
  tuning?: ServerTuning;
  /** The PostgreSQL server for the cluster's own two databases (DATABASE_URL, else the machine's). */
  postgresUrl?: string;
  /** Show the services' own log lines (default: only STOREFRONT_TEST_VERBOSE=true). */
  verbose?: boolean;
  log?: (line: string) => void;
}

interface ServicePorts {
  grpc: number;
  membership: number;
}

/** The server's Go module in the module cache: the schema files ship in it, next to the code `go install` built. */
async function serverModuleDir(): Promise<string> {
  const go = findGo();
  const cache = go ? (await run(go, ['env', 'GOMODCACHE'])).stdout.trim() : path.join(os.homedir(), 'go', 'pkg', 'mod');
  return path.join(cache, 'go.temporal.io', `server@${TOOL_PINS['temporal-server'].version}`);
}

/** A CA, the frontend's server certificate and a client certificate, all P-256, valid for two days. */
export async function makeCertificates(dir: string): Promise<ClusterCertificates> {
  mkdirSync(dir, { recursive: true });
  const file = (name: string) => path.join(dir, name);
  const openssl = (...args: string[]) => run('openssl', args, { cwd: dir });
  const key = (name: string) =>
    openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', file(name));
  await Promise.all([key('ca.key'), key('frontend.key'), key('client.key')]);
  await openssl(
    'req',
    '-x509',
    '-new',
    '-key',
    file('ca.key'),
    '-subj',
    '/CN=storefront test CA',
    '-days',
    '2',
    '-out',
    file('ca.pem'),
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  );
  const issue = async (name: string, subject: string, extensions: string) => {
    writeFileSync(file(`${name}.ext`), extensions);
    await openssl('req', '-new', '-key', file(`${name}.key`), '-subj', subject, '-out', file(`${name}.csr`));
    await openssl(
      'x509',
      '-req',
      '-in',
      file(`${name}.csr`),
      '-CA',
      file('ca.pem'),
      '-CAkey',
      file('ca.key'),
      '-CAcreateserial',
      '-days',
      '2',
      '-extfile',
      file(`${name}.ext`),
      '-out',
      file(`${name}.pem`),
    );
  };
  await Promise.all([
    issue(
      'frontend',
      `/CN=${FRONTEND_SERVER_NAME}`,
      `subjectAltName=DNS:${FRONTEND_SERVER_NAME},DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n`,
    ),
    issue('client', '/CN=storefront', 'extendedKeyUsage=clientAuth\n'),
  ]);
  return { dir, caCert: file('ca.pem'), clientCert: file('client.pem'), clientKey: file('client.key') };
}

/** Creates a database with the server's schema, through its own SQL tool, as an operator installing Temporal would. */
async function setupSchema(sqlTool: string, postgres: URL, database: string, schemaDir: string): Promise<void> {
  const base = [
    '--plugin',
    'postgres12',
    '--ep',
    postgres.hostname,
    '-p',
    postgres.port || '5432',
    '-u',
    decodeURIComponent(postgres.username || 'postgres'),
    ...(postgres.password ? ['--pw', decodeURIComponent(postgres.password)] : []),
    '--db',
    database,
  ];
  await run(sqlTool, [...base, 'create-database']);
  await run(sqlTool, [...base, 'setup-schema', '-v', '0.0']);
  await run(sqlTool, [...base, 'update-schema', '-d', schemaDir]);
}

/** The frontend's mTLS: its certificate, client certificates required from this run's CA, and the worker service as a client. */
function tlsConfig(certificates: ClusterCertificates) {
  return {
    frontend: {
      server: {
        certFile: path.join(certificates.dir, 'frontend.pem'),
        keyFile: path.join(certificates.dir, 'frontend.key'),
        requireClientAuth: true,
        clientCaFiles: [certificates.caCert],
      },
      client: { serverName: FRONTEND_SERVER_NAME, rootCaFiles: [certificates.caCert] },
    },
    // The worker service (Temporal's own system workflows) is a client of the frontend like any other.
    systemWorker: {
      certFile: certificates.clientCert,
      keyFile: certificates.clientKey,
      client: { serverName: FRONTEND_SERVER_NAME, rootCaFiles: [certificates.caCert] },
    },
  };
}

function serverConfig(options: {
  postgres: URL;
  databases: { main: string; visibility: string };
  ports: Record<ClusterService, ServicePorts> & { frontendHttp: number };
  certificates: ClusterCertificates;
  tuning: ServerTuning;
}): string {
  const { postgres, databases, ports, certificates, tuning } = options;
  const store = (database: string, maxConns: number, maxIdleConns = maxConns) => ({
    sql: {
      pluginName: 'postgres12',
      databaseName: database,
      connectAddr: `${postgres.hostname}:${postgres.port || '5432'}`,
      connectProtocol: 'tcp',
      user: decodeURIComponent(postgres.username || 'postgres'),
      password: decodeURIComponent(postgres.password),
      maxConns,
      maxIdleConns,
      maxConnLifetime: '1h',
    },
  });
  const service = (name: ClusterService) => ({
    rpc: {
      grpcPort: ports[name].grpc,
      membershipPort: ports[name].membership,
      bindOnLocalHost: true,
      ...(name === 'frontend' ? { httpPort: ports.frontendHttp } : {}),
    },
  });
  const config = {
    log: { stdout: true, level: 'warn' },
    persistence: {
      defaultStore: 'postgres-default',
      visibilityStore: 'postgres-visibility',
      numHistoryShards: tuning.numHistoryShards ?? 4,
      datastores: {
        'postgres-default': store(databases.main, tuning.maxConns ?? 10, tuning.maxIdleConns ?? tuning.maxConns ?? 10),
        'postgres-visibility': store(databases.visibility, 4),
      },
    },
    global: {
      membership: { maxJoinDuration: '30s', broadcastAddress: '127.0.0.1' },
      // mTLS on the frontend: a client without a certificate from this run's CA is refused in the handshake.
      // Between the services (membership, history, matching) traffic stays on loopback in plaintext.
      ...(tuning.mtls === false ? {} : { tls: tlsConfig(certificates) }),
    },
    services: Object.fromEntries(CLUSTER_SERVICES.map((name) => [name, service(name)])),
    clusterMetadata: {
      enableGlobalNamespace: false,
      failoverVersionIncrement: 10,
      masterClusterName: 'active',
      currentClusterName: 'active',
      clusterInformation: {
        active: {
          enabled: true,
          initialFailoverVersion: 1,
          rpcName: 'frontend',
          rpcAddress: `127.0.0.1:${ports.frontend.grpc}`,
        },
      },
    },
    publicClient: { hostPort: `127.0.0.1:${ports.frontend.grpc}` },
    dcRedirectionPolicy: { policy: 'noop' },
    dynamicConfigClient: { filepath: 'config/dynamicconfig.yaml', pollInterval: '10s' },
  };
  // JSON is YAML: the server's loader reads it as it is.
  return JSON.stringify(config, null, 2);
}

/** Settings the storefront's checkout needs that a fresh 1.29 server leaves off, and ones that make a test cluster answer sooner. */
const DYNAMIC_CONFIG = `frontend.enableExecuteMultiOperation:
  - value: true
frontend.enableUpdateWorkflowExecution:
  - value: true
system.forceSearchAttributesCacheRefreshOnRead:
  - value: true
`;

/** The checkout's keys plus the tuning's own, each one value for every namespace and task queue. */
function dynamicConfig(extra: ServerTuning['dynamicConfig'] = {}): string {
  return (
    DYNAMIC_CONFIG +
    Object.entries(extra)
      .map(([key, value]) => `${key}:\n  - value: ${JSON.stringify(value)}\n`)
      .join('')
  );
}

export async function startTemporalCluster(options: TemporalClusterOptions = {}): Promise<TemporalCluster> {
  const log = options.log ?? ((line: string) => process.stderr.write(`[cluster] ${line}\n`));
  const verbose = options.verbose ?? process.env.STOREFRONT_TEST_VERBOSE === 'true';
  const namespace = options.namespace ?? 'storefront';
  const layout = options.layout ?? 'services';
  const tuning = options.tuning ?? {};
  const [server, sqlTool, moduleDir] = await Promise.all([
    ensureTool('temporal-server'),
    ensureTool('temporal-sql-tool'),
    serverModuleDir(),
  ]);

  const root = mkdtempSync(path.join(os.tmpdir(), 'storefront-cluster-'));
  const supervisor = new Supervisor();
  const postgres = new URL(options.postgresUrl ?? process.env.DATABASE_URL ?? LOCAL_POSTGRES_URL);
  const suffix = `${process.pid}_${Date.now().toString(36)}`;
  const databases = { main: `temporal_${suffix}`, visibility: `temporal_visibility_${suffix}` };
  // In the one-process layout every service maps to the same process and the same spec.
  const processes = new Map<ClusterService, SupervisedProcess>();
  let specs: Map<ClusterService, Parameters<Supervisor['start']>[0]> | undefined;

  const dropDatabases = async () => {
    const admin = new PgClient({ connectionString: postgres.toString() });
    await admin.connect();
    try {
      for (const database of Object.values(databases))
        await admin.query(`DROP DATABASE IF EXISTS ${quoteIdentifier(database)} WITH (FORCE)`);
    } finally {
      await admin.end();
    }
  };

  // The worker service runs Temporal's own system workflows and serves no gRPC of its own: it is up once the ring knows it (the namespace step below needs it).
  const waitForService = (service: ClusterService, proc: SupervisedProcess): Promise<void> =>
    service === 'worker'
      ? Promise.resolve()
      : waitForPort(portsOf(service), `the Temporal ${service} service`, { process: proc, timeoutMs: 90_000 });
  let portsOf: (service: ClusterService) => number = () => 0;

  const stop = async () => {
    await supervisor.stopAll({ timeoutMs: 5_000 });
    await dropDatabases().catch((error: Error) => log(`could not drop the cluster's databases: ${error.message}`));
    rmSync(root, { recursive: true, force: true });
  };

  try {
    const begun = Date.now();
    const [certificates] = await Promise.all([
      makeCertificates(path.join(root, 'certs')),
      setupSchema(
        sqlTool,
        postgres,
        databases.main,
        path.join(moduleDir, 'schema', 'postgresql', 'v12', 'temporal', 'versioned'),
      ),
      setupSchema(
        sqlTool,
        postgres,
        databases.visibility,
        path.join(moduleDir, 'schema', 'postgresql', 'v12', 'visibility', 'versioned'),
      ),
    ]);
    // The membership table keeps each membership port in a PostgreSQL smallint: freePort's picks stay below 32768.
    const port = async (): Promise<ServicePorts> => ({ grpc: await freePort(), membership: await freePort() });
    const ports = {
      history: await port(),
      matching: await port(),
      frontend: await port(),
      worker: await port(),
      frontendHttp: await freePort(),
    };
    portsOf = (service) => ports[service].grpc;
    mkdirSync(path.join(root, 'config'), { recursive: true });
    writeFileSync(
      path.join(root, 'config', 'development.yaml'),
      serverConfig({ postgres, databases, ports, certificates, tuning }),
    );
    writeFileSync(path.join(root, 'config', 'dynamicconfig.yaml'), dynamicConfig(tuning.dynamicConfig));

    const spec = (name: string, services: readonly ClusterService[]): Parameters<Supervisor['start']>[0] => ({
      name,
      command: server,
      args: [
        '--root',
        root,
        '--config',
        'config',
        '--env',
        'development',
        '--allow-no-auth',
        'start',
        ...services.flatMap((service) => ['--service', service]),
      ],
      cwd: root,
      output: verbose ? ('prefix' as const) : ('ignore' as const),
      quietOnStop: true,
    });
    if (layout === 'one-process') {
      const all = spec('temporal-server', CLUSTER_SERVICES);
      specs = new Map(CLUSTER_SERVICES.map((service) => [service, all]));
      const proc = supervisor.start(all);
      for (const service of CLUSTER_SERVICES) processes.set(service, proc);
      await Promise.all(CLUSTER_SERVICES.map((service) => waitForService(service, proc)));
    } else {
      specs = new Map(CLUSTER_SERVICES.map((service) => [service, spec(`temporal-${service}`, [service])]));
      // The first service to start writes the cluster's metadata into the fresh database; started all at once, the
      // others race it to the same insert and die. History first, then the rest together.
      const startService = async (service: ClusterService) => {
        processes.set(service, supervisor.start(specs!.get(service)!));
        await waitForService(service, processes.get(service)!);
      };
      await startService('history');
      await Promise.all(CLUSTER_SERVICES.filter((service) => service !== 'history').map(startService));
    }

    const address = `127.0.0.1:${ports.frontend.grpc}`;
    const env: Record<string, string> = {
      TEMPORAL_ADDRESS: address,
      TEMPORAL_NAMESPACE: namespace,
      ...(tuning.mtls === false
        ? {}
        : {
            TEMPORAL_TLS_CLIENT_CERT_PATH: certificates.clientCert,
            TEMPORAL_TLS_CLIENT_KEY_PATH: certificates.clientKey,
            TEMPORAL_TLS_SERVER_CA_CERT_PATH: certificates.caCert,
            TEMPORAL_TLS_SERVER_NAME: FRONTEND_SERVER_NAME,
          }),
    };
    const settings = (extra: { PAYLOAD_ENCRYPTION_KEYS?: string } = {}) =>
      temporalSettingsFromEnv({ ...env, ...extra });

    // The frontend answers its health check once it has joined the ring; then the namespace is made as `npm run ops -- prepare-namespace` would.
    const connection = await connectClient(settings(), { connectTimeout: 5_000 });
    try {
      await waitUntil(
        'the Temporal frontend to serve',
        async () => {
          await connection.healthService.check({});
          return true;
        },
        { process: processes.get('frontend'), timeoutMs: 90_000, intervalMs: 250 },
      );
      await prepareNamespace(connection, namespace, { retentionDays: 1, timeoutMs: 90_000 });
    } finally {
      await connection.close();
    }
    log(
      `Temporal ${layout === 'one-process' ? 'server (one process)' : 'cluster'} ready in ${((Date.now() - begun) / 1000).toFixed(1)}s on ${address} (${tuning.mtls === false ? 'plaintext' : 'mTLS'}; namespace ${namespace}; databases ${databases.main}, ${databases.visibility})`,
    );

    return {
      address,
      namespace,
      certificates,
      env,
      settings,
      visibilityDatabaseUrl: Object.assign(new URL(postgres.toString()), {
        pathname: `/${databases.visibility}`,
      }).toString(),
      databases,
      pids: () => [...new Set([...processes.values()].filter((proc) => !proc.hasExited()).map((proc) => proc.pid))],
      async kill(service) {
        const proc = processes.get(service)!;
        process.kill(proc.pid, 'SIGKILL');
        await proc.exited;
      },
      async restart(service) {
        const proc = supervisor.start(specs!.get(service)!);
        const restarted = layout === 'one-process' ? CLUSTER_SERVICES : [service];
        for (const each of restarted) processes.set(each, proc);
        await Promise.all(restarted.map((each) => waitForService(each, proc)));
      },
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
