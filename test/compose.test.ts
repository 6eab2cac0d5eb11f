/**
 * There is no Docker engine here: check that docker-compose.yml parses and wires the stack like
 * `npm start`: in the production profile (secrets from .env, built JavaScript, no dev tokens, only
 * the API published beyond 127.0.0.1), Temporal set up by its own tools in one-shot jobs, every
 * failure visible, the demo profile, pinned images, passwords out of URLs, and the image itself
 * (Dockerfile, .dockerignore).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';
import { parse } from 'yaml';
import { databaseUrlsFromEnv, loadSettings } from '../lib/config';
import { SERVICES } from '../lib/service-names';
import { productionProblems } from '../lib/production';
import { SEARCH_ATTRIBUTE_TYPES } from '../devstack/dev-servers';
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
    // per-service URLs (DATABASE_URL names the server), the pools' size and timeouts (the budget the
    // compose file's max_connections is set for), and HOST and METRICS_PORT, which only the API needs
    // (checked below, and with Prometheus's scrape).
    const fineByDefault = (key: string) =>
      ['PORT', 'TEMPORAL_DEADLINE_MS', 'STRIPE_SECRET_KEY', 'HOST', 'METRICS_PORT'].includes(key) ||
      key.startsWith('DB_') ||
      key.endsWith('_DATABASE_URL');
    const required = [...read].filter((key) => !fineByDefault(key)).sort();
    expect(required).toEqual(
      expect.arrayContaining(['DATABASE_URL', 'TEMPORAL_ADDRESS', 'STRIPE_API_BASE', 'JWT_SECRET']),
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

  it('creates every service database', () => {
    const sql = readFileSync(path.resolve(__dirname, '..', 'docker', 'create-databases.sql'), 'utf8');
    for (const service of SERVICES) {
      expect(sql).toContain(`CREATE DATABASE storefront_${service};`);
    }
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
        expect(env.PGPASSWORD).toMatch(/^\$\{POSTGRES_PASSWORD:\?/);
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
      for (const step of ['create-database', 'setup-schema -v 0.0', 'update-schema -d'])
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

  it('keeps the database password out of every URL, as settings of their own that any character is safe in', () => {
    expect(composeText).not.toMatch(/:\/\/[^\s'"]*\$\{/);
    const password = compose.services.postgres!.environment!.POSTGRES_PASSWORD;
    expect(password).toMatch(/^\$\{POSTGRES_PASSWORD:\?/);
    expect(compose.services.temporal!.environment!.POSTGRES_PWD).toBe(password);
    expect(compose.services['temporal-schema']!.environment!.SQL_PASSWORD).toBe(password);
    for (const name of ['api', 'migrate', 'demo-seed', ...workerServices]) {
      const env = compose.services[name]!.environment!;
      expect([name, env.PGPASSWORD, env.DATABASE_URL]).toEqual([
        name,
        password,
        'postgresql://postgres@postgres:5432/postgres',
      ]);
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
    // Each app process opens one node-postgres pool per service database, 10 connections each (pg's default).
    const appProcesses = ['api', ...workerServices].length;
    const temporalStores = 2 * 20;
    expect(maxConnections).toBeGreaterThanOrEqual(appProcesses * SERVICES.length * 10 + temporalStores + 20);
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
