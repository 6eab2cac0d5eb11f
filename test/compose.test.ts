/** There is no Docker engine here: check that docker-compose.yml parses and wires the stack like `npm start`. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { databaseUrlsFromEnv, loadSettings } from '../lib/config';
import { ALL_QUEUES, queuesFromArgs } from '../lib/workers';

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

const compose = parse(readFileSync(path.resolve(__dirname, '..', 'docker-compose.yml'), 'utf8'), { merge: true }) as {
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
    const fineByDefault = (key: string) => ['PORT', 'TEMPORAL_DEADLINE_MS', 'STRIPE_SECRET_KEY', 'HOST'].includes(key) || key.endsWith('_DATABASE_URL');
    const required = [...read].filter((key) => !fineByDefault(key)).sort();
    expect(required).toEqual(expect.arrayContaining(['DATABASE_URL', 'TEMPORAL_ADDRESS', 'STRIPE_API_BASE', 'JWT_SECRET']));
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
    expect(longRunning.map(([name]) => name)).toEqual(expect.arrayContaining(['postgres', 'temporal', 'temporal-ui', 'stripe-mock', 'api', 'prometheus', 'grafana']));
    for (const [name, service] of longRunning) {
      // A command that can fail: `CMD`/`CMD-SHELL` and something to run.
      expect({ name, test: service.healthcheck?.test?.slice(0, 1) }).toEqual({ name, test: [expect.stringMatching(/^CMD(-SHELL)?$/)] });
      expect({ name, hasCommand: (service.healthcheck?.test?.length ?? 0) > 1 }).toEqual({ name, hasCommand: true });
    }
  });

  it('runs every task queue in worker services that scale apart, each serving its metrics', () => {
    const queues = workerServices.flatMap((name) => {
      const command = compose.services[name]!.command!;
      expect(command.slice(0, 3)).toEqual(['npx', 'tsx', 'worker.ts']);
      return queuesFromArgs(command.slice(3));
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

  it('creates the six service databases', () => {
    const sql = readFileSync(path.resolve(__dirname, '..', 'docker', 'create-databases.sql'), 'utf8');
    for (const service of ['inventory', 'orders', 'payments', 'cart', 'quota', 'notifications']) {
      expect(sql).toContain(`CREATE DATABASE storefront_${service};`);
    }
  });
});
