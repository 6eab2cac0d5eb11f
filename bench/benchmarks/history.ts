/**
 * History cost: events and bytes of one checkout's history per scenario, against Temporal's
 * limits (51,200 events and 50 MB per history, 2 MB per payload). Two sources: the recorded
 * histories the replay tier uses (workflows/histories/*.json: every scenario, including the
 * ones stripe-mock cannot produce, such as a declined card), and live checkouts on the bench
 * stack through the real services. From them: what one more declined attempt or one more
 * order line costs, and how far that is from a limit.
 */
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { cancelUpdate, type CheckoutInput } from '../../workflows/contract';
import { checkoutInput, createBenchProducts, pay, place, workflowIdOf } from '../lib/checkout-driver';
import type { Benchmark } from '../lib/context';
import { historyCost, TEMPORAL_LIMITS, type HistoryCost } from '../lib/histories';
import { BENCH_TUNING } from '../lib/tuning-choices';

const HISTORIES_DIR = path.resolve(__dirname, '..', '..', 'workflows', 'histories');

function recordedHistories(): Record<string, HistoryCost> {
  const costs: Record<string, HistoryCost> = {};
  for (const file of readdirSync(HISTORIES_DIR)
    .filter((name) => name.endsWith('.json'))
    .sort()) {
    costs[file.replace(/\.json$/, '')] = historyCost(
      historyFromJSON(JSON.parse(readFileSync(path.join(HISTORIES_DIR, file), 'utf8'))),
    );
  }
  return costs;
}

export const historyBenchmark: Benchmark = {
  name: 'history',
  title: 'events and bytes of history per checkout scenario, against Temporal limits',
  async run(context) {
    const { stack } = context;
    await stack.ensureWorker(BENCH_TUNING);
    const recorded = recordedHistories();

    const [product, manyLinesProducts] = await Promise.all([
      createBenchProducts(stack.services.inventory, `history-${stack.runId}`, 1).then((products) => products[0]!),
      createBenchProducts(stack.services.inventory, `history-lines-${stack.runId}`, context.quick ? 20 : 100),
    ]);
    const scarce = await stack.services.inventory.createProduct({
      sku: `HISTORY-NONE-${stack.runId}`,
      name: 'None left',
      priceCents: 100,
      available: 0,
    });
    // A customer who has used the free plan's 20 orders this month.
    await stack.services.quota.recordUsage({
      userId: 'history-full',
      resource: 'orders',
      quantity: 20,
      idempotencyKey: 'history-full-prefill',
    });

    const client = stack.client;
    const settle = (input: CheckoutInput) => client.workflow.getHandle(workflowIdOf('saga', input)).result();
    const scenarios: Record<string, () => Promise<CheckoutInput>> = {
      paid: async () => {
        const input = checkoutInput('history-paid', product);
        await place(client, 'saga', input);
        await pay(client, 'saga', input);
        return input;
      },
      expired: async () => {
        const input = checkoutInput('history-expired', product, 1);
        await place(client, 'saga', input);
        return input;
      },
      cancelled: async () => {
        const input = checkoutInput('history-cancelled', product);
        await place(client, 'saga', input);
        await client.workflow
          .getHandle(workflowIdOf('saga', input))
          .executeUpdate(cancelUpdate, { args: [{ reason: 'bench' }] });
        return input;
      },
      'out-of-stock': async () => {
        const input = checkoutInput('history-oos', scarce);
        await place(client, 'saga', input);
        return input;
      },
      'quota-rejected': async () => {
        const input = checkoutInput('history-full', product);
        await place(client, 'saga', input);
        return input;
      },
      [`paid-${manyLinesProducts.length}-lines`]: async () => {
        const input = checkoutInput('history-lines', product);
        input.lines = manyLinesProducts.map((p) => ({
          productId: p.id,
          sku: p.sku,
          name: p.name,
          quantity: 1,
          unitPriceCents: p.priceCents,
        }));
        await place(client, 'saga', input);
        await pay(client, 'saga', input);
        return input;
      },
    };
    const live: Record<string, HistoryCost> = {};
    for (const [name, scenario] of Object.entries(scenarios)) {
      const input = await scenario();
      await settle(input);
      live[name] = historyCost(await client.workflow.getHandle(workflowIdOf('saga', input)).fetchHistory());
    }
    // Order status events no longer pass through the per-user notification workflow (the checkout
    // persists them itself), so an order adds nothing to that workflow's history.

    // Marginal costs, and how many of them fit under the limits.
    const declined = recorded['declined-then-paid-notified'];
    const paidRecorded = recorded['paid'];
    const perDecline =
      declined && paidRecorded
        ? { events: declined.events - paidRecorded.events, bytes: declined.bytes - paidRecorded.bytes }
        : undefined;
    const lines = manyLinesProducts.length;
    const manyLines = live[`paid-${lines}-lines`]!;
    const perLine = {
      historyBytes: Math.round((manyLines.bytes - live.paid!.bytes) / (lines - 1)),
      payloadBytes: Math.round((manyLines.largestPayloadBytes - live.paid!.largestPayloadBytes) / (lines - 1)),
    };
    const all = {
      ...Object.fromEntries(Object.entries(recorded).map(([k, v]) => [`recorded:${k}`, v])),
      ...Object.fromEntries(Object.entries(live).map(([k, v]) => [`live:${k}`, v])),
    };
    const maxEvents = Math.max(...Object.values(all).map((cost) => cost.events));
    const maxBytes = Math.max(...Object.values(all).map((cost) => cost.bytes));
    const headroom = {
      declinedAttemptsBeforeEventLimit:
        perDecline && perDecline.events > 0
          ? Math.floor((TEMPORAL_LIMITS.historyEvents - live.paid!.events) / perDecline.events)
          : null,
      declinedAttemptsBeforeEventWarning:
        perDecline && perDecline.events > 0
          ? Math.floor((TEMPORAL_LIMITS.historyEventsWarn - live.paid!.events) / perDecline.events)
          : null,
      orderLinesBeforePayloadLimit:
        perLine.payloadBytes > 0 ? Math.floor(TEMPORAL_LIMITS.payloadBytes / perLine.payloadBytes) : null,
      orderLinesBeforePayloadWarning:
        perLine.payloadBytes > 0 ? Math.floor(TEMPORAL_LIMITS.payloadBytesWarn / perLine.payloadBytes) : null,
    };
    const paidLive = live.paid!;
    return {
      summary:
        `paid checkout ${paidLive.events} events / ${(paidLive.bytes / 1024).toFixed(1)} KiB (largest payload ${(paidLive.largestPayloadBytes / 1024).toFixed(1)} KiB); ` +
        `max over ${Object.keys(all).length} scenarios ${maxEvents} events / ${(maxBytes / 1024).toFixed(1)} KiB = ${((maxEvents / TEMPORAL_LIMITS.historyEvents) * 100).toFixed(2)}% of 51,200 events; ` +
        `each declined attempt +${perDecline?.events ?? '?'} events, each order line +${perLine.payloadBytes} payload bytes`,
      headline: { history_events_max: maxEvents },
      data: {
        limits: TEMPORAL_LIMITS,
        live,
        recorded,
        marginal: { perDeclinedAttempt: perDecline, perOrderLine: perLine },
        headroom,
        maxEvents,
        maxBytes,
      },
    };
  },
};
