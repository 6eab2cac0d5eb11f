/** There is no Docker engine here: check that docker-compose.yml parses and wires the stack like `npm start`. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';

interface ComposeService {
  image?: string;
  build?: unknown;
  command?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: unknown;
}

const compose = parse(readFileSync(path.resolve(__dirname, '..', 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, ComposeService>;
};

describe('docker-compose.yml', () => {
  it('runs the same parts as npm start', () => {
    expect(Object.keys(compose.services)).toEqual(
      expect.arrayContaining(['postgres', 'temporal', 'temporal-ui', 'stripe-mock', 'migrate', 'api', 'worker']),
    );
    for (const [name, service] of Object.entries(compose.services)) {
      expect({ name, runnable: Boolean(service.image || service.build) }).toEqual({ name, runnable: true });
    }
  });

  it('gives the API and the workers the settings they read', () => {
    for (const name of ['api', 'worker', 'migrate']) {
      const env = compose.services[name]!.environment!;
      expect(Object.keys(env)).toEqual(expect.arrayContaining(['DATABASE_URL', 'TEMPORAL_ADDRESS', 'STRIPE_API_BASE']));
      expect(env.TEMPORAL_ADDRESS).toBe('temporal:7233');
    }
    expect(compose.services.api!.environment!.HOST).toBe('0.0.0.0');
  });

  it('starts the app only after the databases are migrated and Temporal is set up', () => {
    for (const name of ['api', 'worker']) {
      expect(compose.services[name]!.depends_on).toMatchObject({
        migrate: { condition: 'service_completed_successfully' },
        'temporal-setup': { condition: 'service_completed_successfully' },
      });
    }
    expect(compose.services.postgres!.healthcheck).toBeDefined();
    expect(compose.services.api!.healthcheck).toBeDefined();
  });

  it('creates the six service databases', () => {
    const sql = readFileSync(path.resolve(__dirname, '..', 'docker', 'create-databases.sql'), 'utf8');
    for (const service of ['inventory', 'orders', 'payments', 'cart', 'quota', 'notifications']) {
      expect(sql).toContain(`CREATE DATABASE storefront_${service};`);
    }
  });
});
