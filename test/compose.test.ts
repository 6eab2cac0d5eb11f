/**
 * There is no Docker engine here: check that docker-compose.yml parses and wires the stack like
 * `npm start`, in the production profile: secrets from .env, built JavaScript, no dev tokens,
 * only the API published beyond 127.0.0.1.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { databaseUrlsFromEnv, loadSettings } from '../lib/config';
import { SERVICES } from '../lib/service-names';
import { productionProblems } from '../lib/production';
import { ALL_QUEUES, queuesFromArgs } from '../worker/workers';

interface ComposeService {
  image?: string;
  build?: unknown;
  command?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
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
    // per-service URLs (DATABASE_URL names the server), and HOST, which only the API needs (checked below).
    const fineByDefault = (key: string) =>
      ['PORT', 'TEMPORAL_DEADLINE_MS', 'STRIPE_SECRET_KEY', 'HOST'].includes(key) || key.endsWith('_DATABASE_URL');
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
            expect.stringMatching(new RegExp(`^\\$\\{${secret}:\\?`)),
          ]);
        expect(env.DATABASE_URL).toContain('${POSTGRES_PASSWORD:?');
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
      const required = [...composeText.matchAll(/\$\{([A-Z_]+):\?/g)].map((match) => match[1]!);
      for (const name of new Set(required)) expect([name, name in example]).toEqual([name, true]);
      // A copy of the example that was never edited cannot start: each secret is named.
      const problems = productionProblems({ ...example, NODE_ENV: 'production' }).join('\n');
      for (const secret of SECRETS) expect(problems).toContain(secret);
    });
  });
});
