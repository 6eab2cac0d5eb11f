/**
 * Prometheus metrics with prom-client: an HTTP latency histogram by route, orders by status,
 * compensations run and the reconciler's latest findings (read from the service databases, so
 * every API replica reports the same truth), and counters of what this instance refused.
 *
 * The database figures are read on a cadence (every `refreshMs`, 15 s by default) into a snapshot
 * and a scrape only reads that snapshot: scrapes, however many, never reach the pools that place
 * orders. GET /metrics is on the public port only when `publicRoute` says so (development); in
 * production the registry is served on METRICS_PORT instead (api/metrics-server.ts).
 */
import fp from 'fastify-plugin';
import type { FastifyInstance } from 'fastify';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { INVARIANTS } from '../../reconciler/invariants';
import type { InventoryService } from '../../services/inventory/inventory.service';
import type { FindingsService } from '../../services/orders/findings.service';
import type { OrdersService } from '../../services/orders/orders.service';
import type { PaymentsService } from '../../services/payments/payments.service';
import type { QuotaService } from '../../services/quota/quota.service';

declare module 'fastify' {
  interface FastifyInstance {
    metrics: StorefrontMetrics;
  }
}

export interface StorefrontMetrics {
  registry: Registry;
  /** Reads the database figures now (the timer does it every `refreshMs`); tests call it before they scrape. */
  refresh(): Promise<void>;
  quotaRejections: Counter<'resource'>;
  orderPlacements: Counter<'outcome'>;
}

export interface MetricsOptions {
  orders: Pick<OrdersService, 'countByStatus'>;
  inventory: Pick<InventoryService, 'countReleasedReservations'>;
  payments: Pick<PaymentsService, 'countCompensated'>;
  quota: Pick<QuotaService, 'countReleasedUsage'>;
  findings: Pick<FindingsService, 'latestRun'>;
  /** How often the database figures are read (default 15 s, Prometheus's scrape interval). */
  refreshMs?: number;
  /** Serve GET /metrics on the app's own (public) port. */
  publicRoute?: boolean;
}

export const DEFAULT_METRICS_REFRESH_MS = 15_000;

/** The database figures of the latest refresh; a figure whose read failed keeps its previous value. */
interface Snapshot {
  orders?: Partial<Record<string, number>>;
  compensations?: { released: number; refunded: number; cancelled: number; quota: number };
  latestRun?: Awaited<ReturnType<FindingsService['latestRun']>>;
}

export const metrics = fp(
  async function metrics(app: FastifyInstance, options: MetricsOptions) {
    // One registry per app, so tests can build several apps in one process.
    const registry = new Registry();
    const snapshot: Snapshot = {};
    // Each figure on its own: one database away (or a read that throws at once) leaves the others current.
    const read = <T>(query: () => Promise<T>, keep: (value: T) => void): Promise<void> =>
      Promise.resolve()
        .then(query)
        .then(keep, () => undefined);
    const refresh = async (): Promise<void> => {
      await Promise.all([
        read(
          () => options.orders.countByStatus(),
          (orders) => (snapshot.orders = orders),
        ),
        read(
          () =>
            Promise.all([
              options.inventory.countReleasedReservations(),
              options.payments.countCompensated(),
              options.quota.countReleasedUsage(),
            ]),
          ([released, payments, quota]) => (snapshot.compensations = { released, ...payments, quota }),
        ),
        read(
          () => options.findings.latestRun(),
          (run) => (snapshot.latestRun = run),
        ),
      ]);
    };
    let refreshing: Promise<void> | undefined;
    // One refresh at a time: a slow database does not pile reads onto the pools.
    const refreshOnce = (): Promise<void> => (refreshing ??= refresh().finally(() => (refreshing = undefined)));
    const timer = setInterval(() => void refreshOnce(), options.refreshMs ?? DEFAULT_METRICS_REFRESH_MS);
    timer.unref();
    app.addHook('onReady', async () => void refreshOnce());
    app.addHook('onClose', async () => {
      clearInterval(timer);
      await refreshing;
    });
    collectDefaultMetrics({ register: registry });

    const httpDuration = new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request latency by method, route and status code',
      labelNames: ['method', 'route', 'status_code'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    });
    new Gauge({
      name: 'storefront_orders',
      help: 'Orders by status, from the orders database',
      labelNames: ['status'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [status, count] of Object.entries(snapshot.orders ?? {})) this.set({ status }, count ?? 0);
      },
    });
    // Compensations are run by the workers, wherever they are; what they did is in the service
    // databases, so the count is read there and only ever grows (rows are never deleted).
    new Counter({
      name: 'storefront_compensations_total',
      help: 'Compensations the sagas have run, by step: stock released, payment refunded or cancelled, quota given back',
      labelNames: ['step'],
      registers: [registry],
      collect() {
        this.reset();
        const counts = snapshot.compensations;
        if (!counts) return;
        this.inc({ step: 'stock_released' }, counts.released);
        this.inc({ step: 'payment_refunded' }, counts.refunded);
        this.inc({ step: 'payment_cancelled' }, counts.cancelled);
        this.inc({ step: 'quota_released' }, counts.quota);
      },
    });
    // The scheduled reconciler runs in a worker; its last run is in the orders database, read here
    // where Prometheus already scrapes, so the value does not depend on which worker ran it.
    new Gauge({
      name: 'storefront_invariant_violations',
      help: "Violations of each cross-database invariant found by the reconciler's latest scheduled run (docs/reconciler.md); an invariant it skipped is absent",
      labelNames: ['invariant'],
      registers: [registry],
      collect() {
        this.reset();
        const run = snapshot.latestRun;
        if (!run) return;
        for (const invariant of Object.values(INVARIANTS)) {
          const count = run.violations[invariant];
          if (count !== undefined) this.set({ invariant }, count);
        }
      },
    });
    new Gauge({
      name: 'storefront_reconciler_last_run_timestamp_seconds',
      help: "When the reconciler's latest scheduled run finished (alert when it stops moving)",
      registers: [registry],
      collect() {
        this.reset();
        const run = snapshot.latestRun;
        if (run) this.set(run.finishedAt.getTime() / 1000);
      },
    });
    const quotaRejections = new Counter({
      name: 'storefront_quota_rejections_total',
      help: 'Requests refused with QUOTA_EXCEEDED by this instance, by resource',
      labelNames: ['resource'],
      registers: [registry],
    });
    const orderPlacements = new Counter({
      name: 'storefront_order_placements_total',
      help: 'POST /v1/orders outcomes on this instance (AWAITING_PAYMENT, OUT_OF_STOCK, QUOTA_EXCEEDED, ...)',
      labelNames: ['outcome'],
      registers: [registry],
    });

    app.decorate('metrics', { registry, refresh: refreshOnce, quotaRejections, orderPlacements });

    app.addHook('onResponse', (request, reply, done) => {
      // The route pattern, never the raw URL: ids in paths would explode the label set.
      const route = request.routeOptions.url ?? 'unmatched';
      httpDuration.observe(
        { method: request.method, route, status_code: String(reply.statusCode) },
        reply.elapsedTime / 1000,
      );
      done();
    });

    if (options.publicRoute ?? true)
      app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
        reply.header('content-type', registry.contentType);
        return registry.metrics();
      });
  },
  { name: 'metrics' },
);
