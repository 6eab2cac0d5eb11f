/**
 * The storefront API on the app factory for API tests: fresh databases, the real services,
 * workers with the real activities on the test namespace, and helpers for tokens and for
 * proving that a refused request left every database as it was.
 */
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { Client as PgClient } from 'pg';
import { createActivitiesByQueue } from '../../worker/activities-by-queue';
import { buildApp, type AppDeps } from '../../api/app';
import { CheckoutClient } from '../../temporal/checkout-client';
import { SERVICES, type ServiceName } from '../../lib/service-names';
import { openServices, type Services } from '../../services';
import { createTestDatabases, type TestDatabases } from './databases';
import { connectTestTemporal, type RunningWorkers, type TestTemporal, type TestTemporalOptions } from './temporal';
import { checkContract } from './contract';

export const TEST_SETTINGS = {
  jwtSecret: 'api-test-secret',
  allowDevTokens: true,
  stripeWebhookSecret: 'whsec_api_test',
  orderTtlSeconds: 60,
};

export interface ApiHarness {
  app: FastifyInstance;
  services: Services;
  temporal: TestTemporal;
  dbs: TestDatabases;
  token(userId: string, role?: 'user' | 'admin'): string;
  /** app.inject with a user's bearer token. */
  as(userId: string, options: InjectOptions, role?: 'user' | 'admin'): Promise<LightMyRequestResponse>;
  /**
   * Every row of every table of the seven databases, to compare before and after a refused request.
   * Take it once earlier orders are `settled`: their status notifications are persisted after the API answers.
   */
  snapshot(): Promise<Record<string, unknown[]>>;
  /** Waits (bounded) until the order's current status has reached its customer's notifications. */
  settled(orderId: string): Promise<void>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  /** Where the payments service sends Stripe calls (a recorder in front of stripe-mock); stripe-mock itself by default. */
  stripeApiBase?: string;
  /** Talk to this base as to Stripe itself, with state (a recording proxy over the Stripe double, harness/stripe-double.ts). */
  stripeLikeApiBase?: string;
  /**
   * The checkout client's deadline per Temporal call. The API's own default (10 s) is about
   * answering quickly when Temporal is gone; these tests are about outcomes, and a busy 2-core
   * machine running several test files can take longer than that to place an order.
   */
  temporalDeadlineMs?: number;
  app?: Partial<AppDeps>;
  /** Tracing or another Temporal for the client and the workers. */
  temporal?: TestTemporalOptions;
  /** Gives the app the harness's Temporal client as its notifier, so POST /v1/usage records (and signals) instead of answering 503. */
  notifier?: boolean;
}

export async function startApiHarness(options: HarnessOptions = {}): Promise<ApiHarness> {
  const [dbs, temporal] = await Promise.all([createTestDatabases(), connectTestTemporal(options.temporal)]);
  const services = openServices(dbs.urls, {
    stripeSecretKey: undefined,
    stripeApiBase: options.stripeApiBase ?? process.env.STRIPE_API_BASE!,
    ...(options.stripeLikeApiBase ? { stripeLikeApiBase: options.stripeLikeApiBase } : {}),
  });
  let workers: RunningWorkers | undefined;
  let app: FastifyInstance;
  try {
    workers = await temporal.startWorkers(createActivitiesByQueue(services, temporal.client));
    app = await buildCheckedApp({
      settings: TEST_SETTINGS,
      services,
      checkout: new CheckoutClient(temporal.client, { deadlineMs: options.temporalDeadlineMs ?? 60_000 }),
      ...(options.notifier ? { notifier: temporal.client } : {}),
      ...options.app,
    });
    await app.ready();
  } catch (error) {
    // Leave nothing polling: a half-built harness would keep Jest from exiting.
    await workers?.stop();
    await Promise.all([temporal.close(), services.close()]);
    await dbs.dispose();
    throw error;
  }

  const token = (userId: string, role: 'user' | 'admin' = 'user') => app.jwt.sign({ sub: userId, role });
  return {
    app,
    services,
    temporal,
    dbs,
    token,
    as: (userId, options, role = 'user') =>
      app.inject({
        ...options,
        headers: { ...(options.headers ?? {}), authorization: `Bearer ${token(userId, role)}` },
      }),
    snapshot: () => snapshotDatabases(dbs.urls),
    async settled(orderId: string) {
      for (let attempt = 0; attempt < 200; attempt++) {
        const order = await services.orders.get(orderId);
        if (order) {
          const key = `order:${orderId}:${order.status}`;
          const seen = await services.notifications.list(order.customerId, { limit: 500 });
          if (seen.some((n) => n.dedupeKey === key)) return;
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      throw new Error(`order ${orderId}: its status notification never arrived`);
    },
    async close() {
      await app.close();
      await workers!.stop();
      await temporal.close();
      await services.close();
      await dbs.dispose();
    },
  };
}

/**
 * The app of a test, with the contract tier on: every app.inject of it, and the answer, is checked
 * against the document it serves at /docs/json (test/helpers/contract.ts). Every app an API test
 * builds is built here.
 */
export async function buildCheckedApp(deps: AppDeps): Promise<FastifyInstance> {
  return checkContract(await buildApp(deps));
}

/**
 * A second app over the services and Temporal client of a harness (or of a live instance and its
 * run), with some of its dependencies changed (settings, rate limits, probes, a hub, a notifier):
 * for a test that needs the app other than the harness's. The test closes it.
 */
export async function buildAppBeside(
  api: Pick<ApiHarness, 'services' | 'temporal'>,
  deps: Partial<AppDeps>,
): Promise<FastifyInstance> {
  return buildCheckedApp({
    settings: TEST_SETTINGS,
    services: api.services,
    checkout: new CheckoutClient(api.temporal.client),
    ...deps,
  });
}

/**
 * The harness for a whole test file: started before the file's tests (then `ready` runs, to add
 * what the tests share) and closed after them. Register it before the file's own hooks. The
 * harness it returns stands for the one beforeAll starts, so the file can name it as a const.
 */
export function useApiHarness(ready?: (api: ApiHarness) => Promise<void>, options: HarnessOptions = {}): ApiHarness {
  let started: ApiHarness | undefined;
  beforeAll(async () => {
    started = await startApiHarness(options);
    await ready?.(started);
  });
  afterAll(async () => started?.close());
  const current = (): ApiHarness => {
    if (!started) throw new Error('The API harness starts in beforeAll; use it inside a hook or test');
    return started;
  };
  return new Proxy({} as ApiHarness, { get: (_, key) => Reflect.get(current(), key) });
}

/** Rows of every table, ordered, keyed `service.table`; migration bookkeeping left out. */
export async function snapshotDatabases(urls: Record<ServiceName, string>): Promise<Record<string, unknown[]>> {
  const snapshot: Record<string, unknown[]> = {};
  for (const service of SERVICES) {
    const client = new PgClient({ connectionString: urls[service] });
    await client.connect();
    try {
      const tables = await client.query<{ table_name: string }>(
        `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' AND table_name <> '_prisma_migrations' ORDER BY 1`,
      );
      for (const { table_name: table } of tables.rows) {
        const rows = await client.query(`SELECT * FROM "${table}" ORDER BY 1`);
        snapshot[`${service}.${table}`] = rows.rows.map((row) => JSON.stringify(row)).sort();
      }
    } finally {
      await client.end();
    }
  }
  return snapshot;
}
