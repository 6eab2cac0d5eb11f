/**
 * Timer accuracy: 1,000 orders placed and left unpaid, their time-to-live chosen so that they
 * all expire inside one minute. For each, how late after its `expiresAt` (the workflow's own,
 * stored on the order) the durable timer fired (TimerFired in the history), its stock came back
 * (the reservation RELEASED in the inventory database: what the shop feels), the order was
 * recorded EXPIRED (orders database status history, after the compensations ran), and the
 * workflow closed.
 */
import { Client as PgClient } from 'pg';
import { performance } from 'node:perf_hooks';
import { temporal } from '@temporalio/proto';
import { checkoutInput, createBenchProducts, place, workflowIdOf } from '../lib/checkout-driver';
import type { Benchmark } from '../lib/context';
import { fetchHistories, timestampMs } from '../lib/histories';
import { distribution, round } from '../lib/stats';
import { BENCH_TUNING } from '../lib/tuning-choices';
import { cancelUpdate, type CheckoutInput } from '../../workflows/contract';

const EventType = temporal.api.enums.v1.EventType;

export const timersBenchmark: Benchmark = {
  name: 'timers',
  title: '1,000 orders expiring inside one minute: lateness of each expiry vs its expiresAt',
  async run(context) {
    const { stack } = context;
    // BENCH_TIMERS_ORDERS runs a shorter window at the full run's rate (1,000 a minute): the unwind backlog
    // grows with the rate, so a part of the minute shows its start without the whole run's time.
    const scaled = Number(process.env.BENCH_TIMERS_ORDERS) || undefined;
    const settings = scaled
      ? {
          orders: scaled,
          windowS: Math.max(1, Math.round((scaled * 60) / 1_000)),
          placementConcurrency: 8,
          calibrationOrders: 24,
        }
      : context.quick
        ? { orders: 40, windowS: 10, placementConcurrency: 8, calibrationOrders: 8 }
        : { orders: 1_000, windowS: 60, placementConcurrency: 8, calibrationOrders: 40 };
    await stack.ensureWorker(BENCH_TUNING);
    const products = await createBenchProducts(stack.services.inventory, `timers-${stack.runId}`, 8);

    // The window opens once every order should be placed; order i expires i/orders into it.
    // How fast this machine places orders right now: the window must open after the last is placed.
    // At the placement concurrency, so that the rate measured is the rate the orders will be placed at.
    const calibration = Array.from({ length: settings.calibrationOrders }, (_, i) =>
      checkoutInput(`timers-calibration-${i}`, products[i % products.length]!, 3_600),
    );
    const placeAll = async (inputs: readonly CheckoutInput[]): Promise<number> => {
      const begun = Date.now();
      let next = 0;
      await Promise.all(
        Array.from({ length: settings.placementConcurrency }, async () => {
          for (let i = next++; i < inputs.length; i = next++) await place(stack.client, 'saga', inputs[i]!);
        }),
      );
      return inputs.length / ((Date.now() - begun) / 1000);
    };
    // The first half warms up (a dev server just restarted by the floor benchmark placed 1.3 a second
    // where the run then placed 9): only the second half's rate sets when the window opens.
    const half = Math.floor(calibration.length / 2);
    await placeAll(calibration.slice(0, half));
    const placementsPerS = await placeAll(calibration.slice(half));
    await Promise.all(
      calibration.map((input) =>
        stack.client.workflow
          .getHandle(workflowIdOf('saga', input))
          .executeUpdate(cancelUpdate, { args: [{ reason: 'calibration' }] })
          .catch(() => undefined),
      ),
    );

    const begun = Date.now();
    const windowStart = begun + ((1.2 * settings.orders) / placementsPerS + 5) * 1000;
    context.log(
      `  calibration: ${placementsPerS.toFixed(1)} placements/s; the window opens in ${((windowStart - begun) / 1000).toFixed(0)}s`,
    );
    const targets = Array.from(
      { length: settings.orders },
      (_, i) => windowStart + (i * settings.windowS * 1000) / settings.orders,
    );
    const inputs: CheckoutInput[] = [];
    const refused: string[] = [];
    let placedLate = 0;
    let next = 0;
    const placementMs: number[] = [];
    await Promise.all(
      Array.from({ length: settings.placementConcurrency }, async () => {
        while (next < settings.orders) {
          const i = next++;
          const leadMs = targets[i]! - Date.now();
          if (leadMs < 2_000) placedLate += 1;
          const customer = `timers-${Math.floor(i / 10)}`;
          const input = checkoutInput(customer, products[i % products.length]!, Math.max(1, leadMs / 1000));
          const started = performance.now();
          try {
            const state = await place(stack.client, 'saga', input);
            placementMs.push(performance.now() - started);
            if (state.status === 'AWAITING_PAYMENT') inputs.push(input);
            else refused.push(`${state.status} ${state.failure?.code ?? ''}`);
          } catch (error) {
            refused.push(error instanceof Error ? error.message : String(error));
          }
        }
      }),
    );
    const placedInS = (Date.now() - begun) / 1000;
    context.log(
      `  placed ${inputs.length} orders in ${placedInS.toFixed(1)}s (${placedLate} placed less than 2 s before their target); window opens in ${((windowStart - Date.now()) / 1000).toFixed(1)}s`,
    );

    // Wait until every order is recorded EXPIRED (or give up well after the window closed).
    const pg = new PgClient({ connectionString: stack.databases.orders });
    await pg.connect();
    const ids = inputs.map((input) => input.orderId);
    let rows: Array<{ id: string; expires_ms: number; expired_ms: number | null }> = [];
    try {
      // 1,000 unwinds in one minute is more than two cores do: give the backlog time to drain.
      const giveUpAt = windowStart + settings.windowS * 1000 + 600_000;
      for (;;) {
        const result = await pg.query<{ id: string; expires_ms: string; expired_ms: string | null }>(
          `SELECT o.id, EXTRACT(EPOCH FROM o.expires_at) * 1000 AS expires_ms,
                  (SELECT EXTRACT(EPOCH FROM c.at) * 1000 FROM order_status_changes c WHERE c.order_id = o.id AND c.to_status = 'EXPIRED' LIMIT 1) AS expired_ms
             FROM orders o WHERE o.id = ANY($1::uuid[])`,
          [ids],
        );
        rows = result.rows.map((row) => ({
          id: row.id,
          expires_ms: Number(row.expires_ms),
          expired_ms: row.expired_ms === null ? null : Number(row.expired_ms),
        }));
        const done = rows.filter((row) => row.expired_ms !== null).length;
        if (done === ids.length || Date.now() > giveUpAt) break;
        await new Promise((resolve) => setTimeout(resolve, 1_000));
      }
    } finally {
      await pg.end();
    }
    const expiresAt = new Map(rows.map((row) => [row.id, row.expires_ms]));
    // The stock back on sale: the reservation's release, stamped by the inventory database (the same clock).
    const inventoryDb = new PgClient({ connectionString: stack.databases.inventory });
    await inventoryDb.connect();
    const stockReturned: number[] = [];
    try {
      const released = await inventoryDb.query<{ order_id: string; released_ms: string }>(
        `SELECT order_id, EXTRACT(EPOCH FROM updated_at) * 1000 AS released_ms FROM reservations WHERE status = 'RELEASED' AND order_id = ANY($1::uuid[])`,
        [ids],
      );
      for (const row of released.rows) {
        const expiry = expiresAt.get(row.order_id);
        if (expiry !== undefined) stockReturned.push(Number(row.released_ms) - expiry);
      }
    } finally {
      await inventoryDb.end();
    }
    const recorded = rows.filter((row) => row.expired_ms !== null).map((row) => row.expired_ms! - row.expires_ms);
    const notExpired = rows.length - recorded.length;
    const firstExpiry = Math.min(...rows.map((row) => row.expires_ms));
    const lastExpiry = Math.max(...rows.map((row) => row.expires_ms));

    // Timer fired and workflow closed, from each workflow's history.
    const histories = await fetchHistories(
      stack.client,
      inputs.map((input) => workflowIdOf('saga', input)),
      16,
    );
    const fired: number[] = [];
    const closed: number[] = [];
    const noticed: number[] = [];
    const timerStartDelay: number[] = [];
    const timerOwn: number[] = [];
    for (const input of inputs) {
      const history = histories.get(workflowIdOf('saga', input));
      const expiry = expiresAt.get(input.orderId);
      if (!history || expiry === undefined) continue;
      const events = history.events ?? [];
      const started = events.find((event) => event.eventType === EventType.EVENT_TYPE_TIMER_STARTED);
      const timerFired = events.find((event) => event.eventType === EventType.EVENT_TYPE_TIMER_FIRED);
      const last = events.at(-1);
      if (started) timerStartDelay.push(timestampMs(started.eventTime as never) - (expiry - input.ttlSeconds * 1000));
      if (started && timerFired) {
        // A Duration has a Timestamp's shape (seconds, nanos).
        const startToFire = timestampMs(started.timerStartedEventAttributes?.startToFireTimeout as never);
        timerOwn.push(
          timestampMs(timerFired.eventTime as never) - timestampMs(started.eventTime as never) - startToFire,
        );
      }
      if (timerFired) {
        fired.push(timestampMs(timerFired.eventTime as never) - expiry);
        // The workflow task that sees the timer: from here on no payment is accepted.
        const seen = events.find(
          (event) =>
            Number(event.eventId) > Number(timerFired.eventId) &&
            event.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
        );
        if (seen) noticed.push(timestampMs(seen.eventTime as never) - expiry);
      }
      if (last?.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED)
        closed.push(timestampMs(last.eventTime as never) - expiry);
    }

    const timerFired = distribution(fired);
    const workflowNoticed = distribution(noticed);
    const expiredRecorded = distribution(recorded);
    const stockBack = distribution(stockReturned);
    const workflowClosed = distribution(closed);
    return {
      ...(scaled ? { variant: String(scaled) } : {}),
      summary:
        `${recorded.length} orders expired over ${round((lastExpiry - firstExpiry) / 1000, 1)}s: timer fired p50 ${timerFired.p50} / p99 ${timerFired.p99} / max ${timerFired.max} ms late ` +
        `(against its own start p99 ${distribution(timerOwn).p99} ms); ` +
        `stock returned p50 ${stockBack.p50} / p99 ${stockBack.p99} / max ${stockBack.max} ms late (${stockReturned.length} reservations); ` +
        `EXPIRED recorded p50 ${expiredRecorded.p50} / p99 ${expiredRecorded.p99} / max ${expiredRecorded.max} ms late` +
        (notExpired > 0 ? `; ${notExpired} NOT expired` : ''),
      headline: { timer_lateness_p99_ms: timerFired.p99, stock_returned_p99_ms: stockBack.p99 },
      data: {
        settings,
        placed: inputs.length,
        refused: refused.length,
        firstRefusals: [...new Set(refused)].slice(0, 3),
        placedLessThan2sBeforeTarget: placedLate,
        placementS: round(placedInS, 1),
        calibratedPlacementsPerS: round(placementsPerS, 2),
        placementMs: distribution(placementMs),
        expirySpreadS: round((lastExpiry - firstExpiry) / 1000, 1),
        notExpired,
        latenessMs: {
          timerFired,
          timerAgainstItsOwnStart: distribution(timerOwn),
          workflowNoticed,
          stockReturned: stockBack,
          expiredRecorded,
          workflowClosed,
        },
        /** How long after the workflow computed expiresAt its timer was started (the AWAITING_PAYMENT status write and push come first). */
        timerStartedAfterExpiresAtBaseMs: distribution(timerStartDelay),
        definitions: {
          timerFired: 'TimerFired event time (server) - order.expiresAt: when the order stopped being payable',
          timerAgainstItsOwnStart:
            'TimerFired - (TimerStarted + its duration): the server timer alone, without the late start',
          workflowNoticed:
            'start of the first workflow task after TimerFired - order.expiresAt: when the workflow acted on it',
          stockReturned:
            "inventory.reservations.updated_at of the RELEASED reservation - order.expiresAt: the units on sale again (the unwind's first step)",
          expiredRecorded:
            'orders.order_status_changes.at of the EXPIRED row - order.expiresAt (after releaseStock, refund check, releaseOrderQuota)',
          workflowClosed: 'WorkflowExecutionCompleted event time - order.expiresAt',
        },
      },
    };
  },
};
