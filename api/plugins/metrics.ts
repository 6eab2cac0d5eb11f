/**
 * Prometheus metrics at GET /metrics with prom-client: an HTTP latency histogram by route,
 * orders by status, compensations run and the reconciler's latest findings (read from the
 * service databases at scrape time, so every API replica reports the same truth), and counters
 * of what this instance refused.
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
  quotaRejections: Counter<'resource'>;
  orderPlacements: Counter<'outcome'>;
}

export interface MetricsOptions {
  orders: Pick<OrdersService, 'countByStatus'>;
  inventory: Pick<InventoryService, 'countReleasedReservations'>;
  payments: Pick<PaymentsService, 'countCompensated'>;
  quota: Pick<QuotaService, 'countReleasedUsage'>;
  findings: Pick<FindingsService, 'latestRun'>;
}

export const metrics = fp(
  async function metrics(app: FastifyInstance, options: MetricsOptions) {
    // One registry per app, so tests can build several apps in one process.
    const registry = new Registry();
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
      async collect() {
        this.reset();
        const counts = await options.orders.countByStatus().catch(() => ({}));
        for (const [status, count] of Object.entries(counts)) this.set({ status }, count ?? 0);
      },
    });
    // Compensations are run by the workers, wherever they are; what they did is in the service
    // databases, so the count is read there and only ever grows (rows are never deleted).
    new Counter({
      name: 'storefront_compensations_total',
      help: 'Compensations the sagas have run, by step: stock released, payment refunded or cancelled, quota given back',
      labelNames: ['step'],
      registers: [registry],
      async collect() {
        const [released, payments, quota] = await Promise.all([
          options.inventory.countReleasedReservations(),
          options.payments.countCompensated(),
          options.quota.countReleasedUsage(),
        ]).catch(() => [undefined, undefined, undefined] as const);
        this.reset();
        if (released === undefined || payments === undefined || quota === undefined) return;
        this.inc({ step: 'stock_released' }, released);
        this.inc({ step: 'payment_refunded' }, payments.refunded);
        this.inc({ step: 'payment_cancelled' }, payments.cancelled);
        this.inc({ step: 'quota_released' }, quota);
      },
    });
    // The scheduled reconciler runs in a worker; its last run is in the orders database, read here
    // where Prometheus already scrapes, so the value does not depend on which worker ran it.
    const latestRun = () => options.findings.latestRun().catch(() => null);
    new Gauge({
      name: 'storefront_invariant_violations',
      help: "Violations of each cross-database invariant found by the reconciler's latest scheduled run (docs/reconciler.md); an invariant it skipped is absent",
      labelNames: ['invariant'],
      registers: [registry],
      async collect() {
        this.reset();
        const run = await latestRun();
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
      async collect() {
        this.reset();
        const run = await latestRun();
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

    app.decorate('metrics', { registry, quotaRejections, orderPlacements });

    app.addHook('onResponse', (request, reply, done) => {
      // The route pattern, never the raw URL: ids in paths would explode the label set.
      const route = request.routeOptions.url ?? 'unmatched';
      httpDuration.observe(
        { method: request.method, route, status_code: String(reply.statusCode) },
        reply.elapsedTime / 1000,
      );
      done();
    });

    app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
      reply.header('content-type', registry.contentType);
      return registry.metrics();
    });
  },
  { name: 'metrics' },
);
