/**
 * The same checkout saga on a real Temporal cluster (harness/temporal-cluster.ts: history,
 * matching, frontend and worker as four processes on PostgreSQL, mTLS on the frontend) beside
 * the bench stack's dev server, in the same run. Each server gets the same workers, started in
 * this process from the same bundle over the same services (only the server differs), in a
 * namespace of its own, so the bench stack's worker processes take no part. Per server:
 *   latency     one customer at a time: place (update-with-start until AWAITING_PAYMENT) and pay
 *               (until PAID), p50/p99;
 *   throughput  a closed loop of `concurrency` customers for a fixed time: checkouts per second.
 * The servers alternate in ABBA order, so drift in the machine's load falls on both.
 * Headline: cluster_throughput_ratio (cluster / dev server) and cluster_checkout_p50_ratio.
 */
import { bundleWorkflowCode, Runtime, type Worker } from '@temporalio/worker';
import os from 'node:os';
import { SILENT_LOGGER } from '../../lib/logging';
import { prepareNamespace } from '../../ops/orders';
import {
  connectClient,
  connectWorker,
  createClient,
  describeTemporal,
  temporalSettingsFromEnv,
  type TemporalSettings,
} from '../../temporal/connection';
import { ALL_QUEUES, createWorkers } from '../../worker/workers';
import { startTemporalCluster } from '../../harness/temporal-cluster';
import { checkout, checkoutInput, closedLoop, createBenchProducts, type CheckoutTiming } from '../lib/checkout-driver';
import type { BenchContext, Benchmark } from '../lib/context';
import { distribution, median, round, type Distribution } from '../lib/stats';
import type { ProductView } from '../../services/inventory/inventory.service';

type ServerName = 'dev-server' | 'cluster';

/** The dev server's side runs here, away from the bench stack's own namespace and its worker processes. */
const DEV_SERVER_NAMESPACE = 'bench-cluster-compare';

/** One server's clients and workers (bench/benchmarks/one-process.ts opens its sides the same way). */
export interface Side {
  settings: TemporalSettings;
  run<T>(work: (client: ReturnType<typeof createClient>) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

let runtimeInstalled = false;

export async function openSide(
  context: BenchContext,
  settings: TemporalSettings,
  workflowBundle: { code: string },
): Promise<Side> {
  if (!runtimeInstalled) {
    Runtime.install({ logger: SILENT_LOGGER, shutdownSignals: [] });
    runtimeInstalled = true;
  }
  const clientConnection = await connectClient(settings);
  const client = createClient(clientConnection, settings);
  const workerConnection = await connectWorker(settings);
  const workers: Worker[] = await createWorkers({
    connection: workerConnection,
    namespace: settings.namespace,
    queues: ALL_QUEUES,
    services: context.stack.services,
    client,
    workflowBundle,
    dataConverter: settings.dataConverter,
  });
  const runs = workers.map((worker) => worker.run());
  return {
    settings,
    run: (work) => work(client),
    async close() {
      for (const worker of workers) if (worker.getState() === 'RUNNING') worker.shutdown();
      await Promise.allSettled(runs);
      await clientConnection.close();
      await workerConnection.close();
    },
  };
}

interface Round {
  server: ServerName;
  round: number;
  loadAverage: number[];
  placeMs: Distribution;
  payMs: Distribution;
  checkoutsPerS: number;
  errors: number;
  firstErrors: string[];
}

/**
 * The stack's dev server as one side of a comparison, in a namespace of its own (away from the
 * bench stack's worker processes), with the workflows bundled once for every side.
 */
export async function openDevServerSide(
  context: BenchContext,
  namespace: string,
): Promise<{ side: Side; workflowBundle: { code: string } }> {
  const settings = temporalSettingsFromEnv({
    TEMPORAL_ADDRESS: context.stack.temporalAddress,
    TEMPORAL_NAMESPACE: namespace,
  });
  const admin = await connectClient(settings);
  try {
    await prepareNamespace(admin, namespace, { retentionDays: 1 });
  } finally {
    await admin.close();
  }
  const workflowBundle = await bundleWorkflowCode({
    workflowsPath: require.resolve('../../workflows'),
    logger: SILENT_LOGGER,
  });
  return { side: await openSide(context, settings, workflowBundle), workflowBundle };
}

export const clusterBenchmark: Benchmark = {
  name: 'cluster',
  title:
    'the checkout saga on a Temporal cluster (4 processes, PostgreSQL, mTLS) beside the dev server: latency and throughput, same run',
  async run(context) {
    const { stack } = context;
    const settings = context.quick
      ? { singlePerRound: 6, warmup: 2, concurrency: 4, loopS: 8 }
      : { singlePerRound: 20, warmup: 5, concurrency: 8, loopS: 30 };
    context.log('  starting the cluster (first run: builds the server from the Go module proxy)');
    const cluster = await startTemporalCluster({ namespace: 'bench-cluster' });
    const sides: Partial<Record<ServerName, Side>> = {};
    try {
      const { side, workflowBundle } = await openDevServerSide(context, DEV_SERVER_NAMESPACE);
      sides['dev-server'] = side;
      sides.cluster = await openSide(context, cluster.settings(), workflowBundle);
      for (const [name, side] of Object.entries(sides)) context.log(`  ${name}: ${describeTemporal(side!.settings)}`);
      const products: ProductView[] = await createBenchProducts(stack.services.inventory, `cluster-${stack.runId}`, 8);
      let customers = 0;
      const once = (server: ServerName, client: Parameters<Parameters<Side['run']>[0]>[0]): Promise<CheckoutTiming> =>
        // Ten orders per customer: the free plan's monthly order quota is never the limit.
        checkout(
          client,
          'saga',
          checkoutInput(`cluster-${server}-${Math.floor(customers++ / 10)}`, products[customers % products.length]!),
        );

      for (const server of ['dev-server', 'cluster'] as const)
        await sides[server]!.run(async (client) => {
          for (let i = 0; i < settings.warmup; i++) await once(server, client);
        });

      const rounds: Round[] = [];
      for (const [index, server] of (['dev-server', 'cluster', 'cluster', 'dev-server'] as const).entries()) {
        const round_ = await sides[server]!.run(async (client) => {
          const single: CheckoutTiming[] = [];
          for (let i = 0; i < settings.singlePerRound; i++) single.push(await once(server, client));
          const loop = await closedLoop(settings.concurrency, settings.loopS * 1000, () => once(server, client));
          return { single, loop };
        });
        const result: Round = {
          server,
          round: index,
          loadAverage: os.loadavg().map((load) => round(load)),
          placeMs: distribution(round_.single.map((timing) => timing.placeMs)),
          payMs: distribution(round_.single.map((timing) => timing.payMs)),
          checkoutsPerS: round(round_.loop.results.length / round_.loop.elapsedS, 2),
          errors: round_.loop.errors.length,
          firstErrors: [...new Set(round_.loop.errors)].slice(0, 3),
        };
        rounds.push(result);
        context.log(
          `  round ${index} ${server.padEnd(10)} place p50 ${result.placeMs.p50} p99 ${result.placeMs.p99} ms, pay p50 ${result.payMs.p50} ms, ` +
            `${result.checkoutsPerS} checkouts/s at ${settings.concurrency} customers, ${result.errors} errors (load ${result.loadAverage.join(' ')})`,
        );
      }

      const of = (server: ServerName) => {
        const mine = rounds.filter((r) => r.server === server);
        return {
          placeP50Ms: round(median(mine.map((r) => r.placeMs.p50)), 1),
          placeP99Ms: round(median(mine.map((r) => r.placeMs.p99)), 1),
          payP50Ms: round(median(mine.map((r) => r.payMs.p50)), 1),
          checkoutP50Ms: round(median(mine.map((r) => r.placeMs.p50 + r.payMs.p50)), 1),
          checkoutsPerS: round(median(mine.map((r) => r.checkoutsPerS)), 2),
          errors: mine.reduce((sum, r) => sum + r.errors, 0),
        };
      };
      const figures = { 'dev-server': of('dev-server'), cluster: of('cluster') };
      const throughputRatio = round(figures.cluster.checkoutsPerS / figures['dev-server'].checkoutsPerS, 2);
      const checkoutP50Ratio = round(figures.cluster.checkoutP50Ms / figures['dev-server'].checkoutP50Ms, 2);
      return {
        summary:
          `cluster ${figures.cluster.checkoutsPerS} checkouts/s, place+pay p50 ${figures.cluster.checkoutP50Ms} ms; ` +
          `dev server ${figures['dev-server'].checkoutsPerS} checkouts/s, ${figures['dev-server'].checkoutP50Ms} ms: throughput ratio ${throughputRatio}, latency ratio ${checkoutP50Ratio}`,
        headline: { cluster_throughput_ratio: throughputRatio, cluster_checkout_p50_ratio: checkoutP50Ratio },
        data: { settings, figures, throughputRatio, checkoutP50Ratio, rounds },
      };
    } finally {
      await Promise.all(Object.values(sides).map((side) => side!.close()));
      await cluster.stop();
    }
  },
};
