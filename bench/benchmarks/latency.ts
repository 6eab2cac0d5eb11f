/**
 * Latency under a fixed concurrency: order placement (POST /v1/orders until it answers 201
 * AWAITING_PAYMENT) and payment (POST /v1/orders/:id/payment until it answers 200 COMPLETED)
 * through the storefront API process, in rounds alternating with the same checkout driven
 * straight through the Temporal client (what the API adds). During the API rounds, the
 * activity and workflow-task schedule-to-start latencies from the histories (Temporal's own
 * alert line is 200 ms).
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { checkout, checkoutInput, createBenchProducts, place, workflowIdOf } from '../lib/checkout-driver';
import type { BenchContext, Benchmark } from '../lib/context';
import { callJson } from '../lib/http';
import { fetchHistories, placementTrace, scheduleToStart } from '../lib/histories';
import type { BenchApi } from '../lib/stack';
import { distribution, median, round } from '../lib/stats';
import { BENCH_TUNING } from '../lib/tuning-choices';
import { placeFloor } from './floor';
import type { ProductView } from '../../services/inventory/inventory.service';
import { orderWorkflowId } from '../../workflows/contract';

/** The free plan's holding limit (prisma/quota's plan_holding_limits): unpaid orders one customer may hold at once. */
const UNPAID_ORDERS_PER_CUSTOMER = 5;

type Path = 'api' | 'client';

interface Sample {
  placeMs: number;
  payMs: number;
  workflowId: string;
}

/** POST /v1/orders until its 201 AWAITING_PAYMENT. */
async function viaApiPlacement(
  api: BenchApi,
  customerId: string,
  product: ProductView,
): Promise<{ id: string; placeMs: number; workflowId: string }> {
  const token = api.token(customerId);
  const placed = await callJson<{ id: string; status: string; error?: { code: string } }>(`${api.baseUrl}/v1/orders`, {
    method: 'POST',
    token,
    headers: { 'idempotency-key': randomUUID() },
    body: { items: [{ productId: product.id, quantity: 1 }] },
  });
  if (placed.status !== 201 || placed.body.status !== 'AWAITING_PAYMENT') {
    throw new Error(`POST /v1/orders answered ${placed.status} ${JSON.stringify(placed.body).slice(0, 200)}`);
  }
  return { id: placed.body.id, placeMs: placed.ms, workflowId: orderWorkflowId(placed.body.id) };
}

async function viaApi(api: BenchApi, customerId: string, product: ProductView): Promise<Sample> {
  const token = api.token(customerId);
  const placed = await viaApiPlacement(api, customerId, product);
  const paid = await callJson<{ status: string }>(`${api.baseUrl}/v1/orders/${placed.id}/payment`, {
    method: 'POST',
    token,
    body: { paymentMethod: 'pm_card_visa' },
  });
  // The payment answers once the money is settled (PAID); the cart and COMPLETED follow without the customer.
  if (paid.status !== 200 || (paid.body.status !== 'PAID' && paid.body.status !== 'COMPLETED')) {
    throw new Error(`POST /v1/orders/:id/payment answered ${paid.status} ${JSON.stringify(paid.body).slice(0, 200)}`);
  }
  return { placeMs: placed.placeMs, payMs: paid.ms, workflowId: placed.workflowId };
}

export const latencyBenchmark: Benchmark = {
  name: 'latency',
  title: 'order placement and payment latency through the API at fixed concurrency; schedule-to-start p99',
  async run(context) {
    const { stack } = context;
    const settings = context.quick
      ? { concurrency: 4, checkoutsPerRound: 8, rounds: 1, warmup: 2, singlePerRound: 5 }
      : { concurrency: 4, checkoutsPerRound: 100, rounds: 3, warmup: 8, singlePerRound: 10 };
    await stack.ensureWorker(BENCH_TUNING);
    const api = await stack.startApi();
    const products = await createBenchProducts(stack.services.inventory, `latency-${stack.runId}`, 8);

    const runRound = async (path: Path, label: string, count: number) => {
      const samples: Sample[] = [];
      const errors: string[] = [];
      let next = 0;
      await Promise.all(
        Array.from({ length: settings.concurrency }, async (_, vu) => {
          for (let i = next++; i < count; i = next++) {
            const customerId = `lat-${label}-${path}-${vu}-${Math.floor(i / 10)}`;
            const product = products[i % products.length]!;
            try {
              if (path === 'api') samples.push(await viaApi(api, customerId, product));
              else {
                const input = checkoutInput(customerId, product);
                const timing = await checkout(stack.client, 'saga', input);
                samples.push({ placeMs: timing.placeMs, payMs: timing.payMs, workflowId: workflowIdOf('saga', input) });
              }
            } catch (error) {
              errors.push(error instanceof Error ? error.message : String(error));
            }
          }
        }),
      );
      return { samples, errors };
    };

    await runRound('api', 'warm', settings.warmup);
    await runRound('client', 'warm', settings.warmup);
    const rounds: Array<{
      path: Path;
      round: number;
      placeMs: ReturnType<typeof distribution>;
      payMs: ReturnType<typeof distribution>;
      errors: number;
      firstErrors: string[];
    }> = [];
    const apiWorkflowIds: string[] = [];
    for (let r = 0; r < settings.rounds; r++) {
      const order: Path[] = r % 2 === 0 ? ['api', 'client'] : ['client', 'api'];
      for (const path of order) {
        const { samples, errors } = await runRound(path, String(r), settings.checkoutsPerRound);
        if (path === 'api') apiWorkflowIds.push(...samples.map((sample) => sample.workflowId));
        const result = {
          path,
          round: r,
          placeMs: distribution(samples.map((sample) => sample.placeMs)),
          payMs: distribution(samples.map((sample) => sample.payMs)),
          errors: errors.length,
          firstErrors: [...new Set(errors)].slice(0, 3),
        };
        rounds.push(result);
        context.log(
          `  round ${r} ${path.padEnd(6)} place p50 ${result.placeMs.p50} p99 ${result.placeMs.p99} ms, pay p50 ${result.payMs.p50} p99 ${result.payMs.p99} ms, ${errors.length} errors`,
        );
        if (errors.length > 0) context.log(`    errors: ${result.firstErrors.join(' | ')}`);
      }
    }

    // One customer at a time, same server and worker, in ABBA order so that none always runs first:
    // the saga placed through the API; the floor (update-with-start answered after one no-op
    // activity); the saga through the Temporal client alone (the floors' own path); and the
    // placement's shape with no-op activities (three side by side, then one), through the client.
    const single: Record<'saga' | 'floor' | 'client' | 'shape', number[]> = {
      saga: [],
      floor: [],
      client: [],
      shape: [],
    };
    const singleSagaIds: string[] = [];
    const singleShapeIds: string[] = [];
    const sides = ['saga', 'floor', 'client', 'shape', 'shape', 'client', 'floor', 'saga'] as const;
    for (const [index, side] of sides.entries()) {
      for (let i = 0; i < settings.singlePerRound; i++) {
        // Placed and left unpaid: a customer of the free plan may hold five such orders at once.
        const customerId = `lat-single-${index}-${Math.floor(i / UNPAID_ORDERS_PER_CUSTOMER)}`;
        const product = products[i % products.length]!;
        if (side === 'floor') single.floor.push((await placeFloor(context, 1)).ms);
        else if (side === 'client' || side === 'shape') {
          const input = checkoutInput(customerId, product);
          const begun = performance.now();
          await place(stack.client, side === 'client' ? 'saga' : 'shape', input);
          single[side].push(performance.now() - begun);
          if (side === 'shape') singleShapeIds.push(workflowIdOf('shape', input));
        } else {
          const sample = await viaApiPlacement(api, customerId, product);
          single.saga.push(sample.placeMs);
          singleSagaIds.push(sample.workflowId);
        }
      }
    }
    const singleCustomer = {
      saga: distribution(single.saga),
      floor: distribution(single.floor),
      client: distribution(single.client),
      shape: distribution(single.shape),
    };
    const placementLatencyRatio = round(singleCustomer.saga.p50 / singleCustomer.floor.p50, 2);
    const clientLatencyRatio = round(singleCustomer.client.p50 / singleCustomer.floor.p50, 2);
    const placementShapeRatio = round(singleCustomer.saga.p50 / singleCustomer.shape.p50, 2);
    const clientShapeRatio = round(singleCustomer.client.p50 / singleCustomer.shape.p50, 2);
    // Where one placement's time goes: inside the workflow (tasks, activities, their dispatch waits) and outside it (the API, the client call).
    const placementInside = await insideThePlacements(stack.client, singleSagaIds);
    // The same breakdown for the shape with no-op activities: what the saga's own code and activities add.
    const shapeInside = await insideThePlacements(stack.client, singleShapeIds);
    context.log(
      `  one customer: placement p50 ${singleCustomer.saga.p50} ms (through the client ${singleCustomer.client.p50} ms), floor p50 ${singleCustomer.floor.p50} ms: ratio ${placementLatencyRatio} (client ${clientLatencyRatio}); ` +
        `placement shape p50 ${singleCustomer.shape.p50} ms: placement_shape_ratio ${placementShapeRatio} (client ${clientShapeRatio}); ` +
        `in the workflow p50 ${placementInside.inWorkflowMs.p50} ms, ${placementInside.workflowTasks} workflow tasks, ${placementInside.activities} activities, dispatch waits p50 ${placementInside.workflowTaskWaitMs.p50} + ${placementInside.activityWaitMs.p50} ms, workflow tasks running p50 ${placementInside.workflowTaskRunMs.p50} ms, activities running p50 ${placementInside.activityRunMs.p50} ms; ` +
        `the shape's: in the workflow p50 ${shapeInside.inWorkflowMs.p50} ms, dispatch waits p50 ${shapeInside.workflowTaskWaitMs.p50} + ${shapeInside.activityWaitMs.p50} ms, workflow tasks running p50 ${shapeInside.workflowTaskRunMs.p50} ms, activities running p50 ${shapeInside.activityRunMs.p50} ms`,
    );

    const histories = await fetchHistories(stack.client, apiWorkflowIds, 16);
    const waits = scheduleToStart(histories.values());
    const byPath = (path: Path, pick: (r: (typeof rounds)[number]) => number) =>
      round(median(rounds.filter((r) => r.path === path).map(pick)), 1);
    const figures = {
      api: {
        placeP50: byPath('api', (r) => r.placeMs.p50),
        placeP95: byPath('api', (r) => r.placeMs.p95),
        placeP99: byPath('api', (r) => r.placeMs.p99),
        payP50: byPath('api', (r) => r.payMs.p50),
        payP95: byPath('api', (r) => r.payMs.p95),
        payP99: byPath('api', (r) => r.payMs.p99),
      },
      client: {
        placeP50: byPath('client', (r) => r.placeMs.p50),
        placeP99: byPath('client', (r) => r.placeMs.p99),
        payP50: byPath('client', (r) => r.payMs.p50),
        payP99: byPath('client', (r) => r.payMs.p99),
      },
    };
    const startWaits = {
      activity: waits.activityScheduleToStartMs,
      workflowTask: waits.workflowTaskScheduleToStartMs,
      alertLineMs: 200,
    };
    return {
      summary:
        `at concurrency ${settings.concurrency}: placement p50/p95/p99 ${figures.api.placeP50}/${figures.api.placeP95}/${figures.api.placeP99} ms, ` +
        `payment ${figures.api.payP50}/${figures.api.payP95}/${figures.api.payP99} ms via the API ` +
        `(Temporal client alone: ${figures.client.placeP99} / ${figures.client.payP99} ms p99); ` +
        `schedule-to-start p99 activity ${startWaits.activity.p99} ms, workflow task ${startWaits.workflowTask.p99} ms; ` +
        `one customer: placement p50 ${singleCustomer.saga.p50} ms ÷ floor ${singleCustomer.floor.p50} ms = placement_latency_ratio ${placementLatencyRatio} ` +
        `(through the client ${singleCustomer.client.p50} ms, ratio ${clientLatencyRatio}; in the workflow ${placementInside.inWorkflowMs.p50} ms); ` +
        `÷ the placement's shape ${singleCustomer.shape.p50} ms = placement_shape_ratio ${placementShapeRatio} (through the client ${clientShapeRatio})`,
      headline: {
        order_p99_ms: figures.api.placeP99,
        payment_p99_ms: figures.api.payP99,
        placement_latency_ratio: placementLatencyRatio,
        placement_shape_ratio: placementShapeRatio,
      },
      data: {
        settings,
        figures,
        scheduleToStart: startWaits,
        histories: histories.size,
        singleCustomer,
        placementLatencyRatio,
        clientLatencyRatio,
        placementShapeRatio,
        clientShapeRatio,
        placementInside,
        shapeInside,
        rounds,
        definitions: {
          placementLatencyRatio:
            "one customer at a time: the saga's placement p50 through the API ÷ the floor's p50 (update-with-start answered after one no-op activity, through the Temporal client)",
          clientLatencyRatio:
            'the same with the saga placed through the Temporal client, as the floor is: without the API',
          placementShapeRatio:
            "one customer at a time: the saga's placement p50 through the API ÷ the p50 of the placement's shape with no-op activities (bench/workflows/placement-shape.workflow.ts: three side by side, then one, the placed update answering; through the Temporal client); goal ≤ 1.25",
          clientShapeRatio:
            'the same with the saga placed through the Temporal client, as the shape is: without the API',
          placementInside:
            "from the single-customer placements' histories: WorkflowExecutionStarted → the placed update's completion, with the workflow tasks and activities in between and their summed dispatch waits",
        },
      },
    };
  },
};

/** Where the time of one customer's placements went inside their workflows (bench/lib/histories.ts placementTrace). */
async function insideThePlacements(client: BenchContext['stack']['client'], workflowIds: string[]) {
  const traces = [...(await fetchHistories(client, workflowIds, 8)).values()]
    .map(placementTrace)
    .filter((trace) => trace !== undefined);
  return {
    inWorkflowMs: distribution(traces.map((trace) => trace.inWorkflowMs)),
    workflowTasks: median(traces.map((trace) => trace.workflowTasks)),
    activities: median(traces.map((trace) => trace.activities)),
    workflowTaskWaitMs: distribution(traces.map((trace) => trace.workflowTaskWaitMs)),
    activityWaitMs: distribution(traces.map((trace) => trace.activityWaitMs)),
    workflowTaskRunMs: distribution(traces.map((trace) => trace.workflowTaskRunMs)),
    activityRunMs: distribution(traces.map((trace) => trace.activityRunMs)),
  };
}
