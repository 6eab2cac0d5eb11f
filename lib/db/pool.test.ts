/** The database settings reach every service's pool: size, connection wait and statement timeout. */
import type { Pool, PoolConfig } from 'pg';
import { loadSettings } from '../config';
import { SERVICES, type ServiceName } from '../service-names';
import { DEFAULT_DATABASE_POOL } from './pool';

// The configurations of the pools the adapter receives (shared with each service's plain SQL,
// lib/db/service-db.ts): a pg pool connects only when queried, so none is opened.
const configs: PoolConfig[] = [];
jest.mock('@prisma/adapter-pg', () => ({
  PrismaPg: jest.fn().mockImplementation((pool: Pool) => {
    configs.push(pool.options);
    return { provider: 'postgres', adapterName: '@prisma/adapter-pg', connect: jest.fn() };
  }),
}));

// Loaded after the mock, so the services' clients take the recording adapter.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { openServices } = require('../../services') as typeof import('../../services');

const urls = Object.fromEntries(
  SERVICES.map((service) => [service, `postgresql://app@db.invalid/storefront_${service}`]),
) as Record<ServiceName, string>;

beforeEach(() => configs.splice(0));

it('sizes and bounds each service pool from DB_POOL_MAX, DB_CONNECTION_TIMEOUT_MS and DB_STATEMENT_TIMEOUT_MS', () => {
  const settings = loadSettings({
    DB_POOL_MAX: '4',
    DB_CONNECTION_TIMEOUT_MS: '2500',
    DB_STATEMENT_TIMEOUT_MS: '12000',
  });
  openServices(urls, settings);
  expect(configs.map((config) => config.connectionString).sort()).toEqual(Object.values(urls).sort());
  for (const config of configs)
    expect(config).toMatchObject({ max: 4, connectionTimeoutMillis: 2500, statement_timeout: 12000 });
});

it('without settings every pool still has a bound wait and statement timeout', () => {
  expect(loadSettings({}).databasePool).toEqual(DEFAULT_DATABASE_POOL);
  openServices(urls, { stripeSecretKey: undefined, stripeApiBase: 'http://127.0.0.1:12111' });
  expect(configs).toHaveLength(SERVICES.length);
  for (const config of configs)
    expect(config).toMatchObject({ max: 10, connectionTimeoutMillis: 15000, statement_timeout: 30000 });
});

it('refuses a pool size that is not a number', () => {
  expect(() => loadSettings({ DB_POOL_MAX: 'ten' })).toThrow(/DB_POOL_MAX/);
});
