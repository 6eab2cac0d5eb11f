/**
 * API instances listening on real ports, as in production: fresh databases, workers with the
 * real activities on the test namespace, and per instance its own services, NotificationHub
 * and CatalogueCache (each its own LISTEN connection) and Temporal client as notifier. Several instances share the
 * databases, like replicas behind a load balancer. For SSE, which app.inject() cannot stream.
 */
import type { FastifyInstance } from 'fastify';
import { Client as PgClient } from 'pg';
import { createActivitiesByQueue } from '../../worker/activities-by-queue';
import type { AppDeps } from '../../api/app';
import { CatalogueCache } from '../../api/catalogue-cache';
import { CheckoutClient } from '../../temporal/checkout-client';
import { openServices, type Services } from '../../services';
import { NotificationHub } from '../../services/notifications/live';
import { buildCheckedApp, TEST_SETTINGS } from './api';
import { createTestDatabases, type TestDatabases } from './databases';
import { connectTestTemporal, type RunningWorkers, type TestTemporal } from './temporal';

export interface LiveInstance {
  app: FastifyInstance;
  hub: NotificationHub;
  catalogue: CatalogueCache;
  services: Services;
  /** http://127.0.0.1:<port> */
  url: string;
  /** The hub's application_name in pg_stat_activity, unique to this instance. */
  applicationName: string;
  /** The catalogue cache's application_name in pg_stat_activity (inventory database), unique to this instance. */
  catalogueApplicationName: string;
  /** Closes the app (ending its streams), then its hub and services. Idempotent. */
  close(): Promise<void>;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- parsed JSON that tests read freely
type ParsedJson = any;

export interface LiveApis {
  instances: LiveInstance[];
  dbs: TestDatabases;
  temporal: TestTemporal;
  /** The services the workers use (they persist the notifications). */
  workerServices: Services;
  token(userId: string, role?: 'user' | 'admin'): string;
  /** fetch against an instance with the user's bearer token and a JSON body. */
  call(
    instance: LiveInstance,
    userId: string,
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: ParsedJson }>;
  /** Rows in pg_stat_activity of the notifications database with this application name. */
  listeningConnections(applicationName: string): Promise<number>;
  close(): Promise<void>;
}

export interface LiveApiOptions {
  instances?: number;
  app?: Partial<AppDeps>;
  /** Runs once the databases exist, before anything opens them (e.g. seed demo data). */
  prepare?(dbs: TestDatabases): Promise<void>;
}

export async function startLiveApis(options: LiveApiOptions = {}): Promise<LiveApis> {
  const [dbs, temporal] = await Promise.all([createTestDatabases(), connectTestTemporal()]);
  const stripe = { stripeSecretKey: undefined, stripeApiBase: process.env.STRIPE_API_BASE! };
  const instances: LiveInstance[] = [];
  let workerServices: Services | undefined;
  let workers: RunningWorkers | undefined;

  async function closeAll() {
    await Promise.all(instances.map((instance) => instance.close()));
    await workers?.stop();
    await temporal.close();
    await workerServices?.close();
    await dbs.dispose();
  }

  try {
    await options.prepare?.(dbs);
    workerServices = openServices(dbs.urls, stripe);
    workers = await temporal.startWorkers(createActivitiesByQueue(workerServices, temporal.client));
    const run = Math.random().toString(36).slice(2, 8);
    for (let index = 0; index < (options.instances ?? 1); index++) {
      const services = openServices(dbs.urls, stripe);
      const applicationName = `sse-test-${run}-${index}`;
      const hub = new NotificationHub({
        connectionString: dbs.urls.notifications,
        notifications: services.notifications,
        applicationName,
        retryDelayMs: 200,
      });
      const catalogueApplicationName = `catalogue-test-${run}-${index}`;
      const catalogue = new CatalogueCache({
        connectionString: dbs.urls.inventory,
        load: (query) => services.inventory.listProductsPage(query),
        applicationName: catalogueApplicationName,
        retryDelayMs: 200,
      });
      // Its app.inject is checked against /docs/json like the API harness's (fetch() is, by the tiers' setup).
      const app = await buildCheckedApp({
        settings: TEST_SETTINGS,
        services,
        catalogue,
        checkout: new CheckoutClient(temporal.client),
        notificationHub: hub,
        sessionEvents: { connectionString: dbs.urls.accounts, applicationName: `session-watch-test-${run}-${index}` },
        notifier: temporal.client,
        ...options.app,
      });
      let closed: Promise<void> | undefined;
      const instance: LiveInstance = {
        app,
        hub,
        catalogue,
        services,
        applicationName,
        catalogueApplicationName,
        url: '',
        close: () =>
          (closed ??= (async () => {
            await app.close();
            await hub.close();
            await catalogue.close();
            await services.close();
          })()),
      };
      instances.push(instance);
      await catalogue.start();
      await app.listen({ port: 0, host: '127.0.0.1' });
      const address = app.server.address();
      if (!address || typeof address === 'string') throw new Error('the API did not listen on a TCP port');
      instance.url = `http://127.0.0.1:${address.port}`;
    }
  } catch (error) {
    await closeAll().catch(() => undefined);
    throw error;
  }

  const token = (userId: string, role: 'user' | 'admin' = 'user') => instances[0]!.app.jwt.sign({ sub: userId, role });
  return {
    instances,
    dbs,
    temporal,
    workerServices,
    token,
    async call(instance, userId, method, path, body) {
      const response = await fetch(`${instance.url}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token(userId)}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await response.text();
      return { status: response.status, body: text ? JSON.parse(text) : undefined };
    },
    async listeningConnections(applicationName) {
      const client = new PgClient({ connectionString: dbs.urls.notifications });
      await client.connect();
      try {
        const { rows } = await client.query<{ count: string }>(
          'SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1',
          [applicationName],
        );
        return Number(rows[0]?.count ?? 0);
      } finally {
        await client.end();
      }
    },
    close: closeAll,
  };
}
