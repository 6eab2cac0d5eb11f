/**
 * Oversell: 200 buyers at once against a product with 50 units, through the real checkout
 * (update-with-start, reservation, payment), round after round. Each round must sell exactly
 * 50 (the winners pay), refuse the other 150 with OUT_OF_STOCK, and never show negative stock
 * (polled while the round runs) nor break conservation (50 = available + reserved + sold).
 */
import { Client as PgClient } from 'pg';
import { checkoutInput, pay, place } from '../lib/checkout-driver';
import type { Benchmark } from '../lib/context';
import { distribution, round } from '../lib/stats';
import { BENCH_TUNING } from '../lib/tuning-choices';

interface RoundOutcome {
  round: number;
  placed: number;
  outOfStock: number;
  otherRefusals: string[];
  paid: number;
  sold: number;
  available: number;
  reserved: number;
  minAvailableSeen: number;
  oversold: number;
  conserved: boolean;
  placementMs: ReturnType<typeof distribution>;
  elapsedS: number;
}

export const oversellBenchmark: Benchmark = {
  name: 'oversell',
  title: '200 concurrent buyers vs 50 units per round: exactly 50 sold, stock never negative',
  async run(context) {
    const { stack } = context;
    const settings = context.quick ? { buyers: 40, units: 10, rounds: 1 } : { buyers: 200, units: 50, rounds: 20 };
    await stack.ensureWorker(BENCH_TUNING);
    const pg = new PgClient({ connectionString: stack.databases.inventory });
    await pg.connect();
    const rounds: RoundOutcome[] = [];
    try {
      for (let r = 0; r < settings.rounds; r++) {
        const begun = performance.now();
        const product = await stack.services.inventory.createProduct({
          sku: `OVERSELL-${stack.runId}-${r}`,
          name: `Oversell round ${r}`,
          priceCents: 2_500,
          available: settings.units,
        });

        // Watches the row while the buyers race: a negative value, even for a moment, is an oversell.
        let minAvailableSeen = settings.units;
        let watching = true;
        const watcher = (async () => {
          while (watching) {
            const { rows } = await pg.query<{ available: number }>('SELECT available FROM products WHERE id = $1', [
              product.id,
            ]);
            minAvailableSeen = Math.min(minAvailableSeen, rows[0]?.available ?? settings.units);
            await new Promise((resolve) => setTimeout(resolve, 5));
          }
        })();

        const inputs = Array.from({ length: settings.buyers }, (_, buyer) =>
          checkoutInput(`oversell-${r}-${buyer}`, product),
        );
        const placements = await Promise.all(
          inputs.map(async (input) => {
            const started = performance.now();
            try {
              const state = await place(stack.client, 'saga', input);
              return { input, status: state.status, code: state.failure?.code, ms: performance.now() - started };
            } catch (error) {
              return {
                input,
                status: 'ERROR',
                code: error instanceof Error ? error.message : String(error),
                ms: performance.now() - started,
              };
            }
          }),
        );
        const winners = placements.filter((placement) => placement.status === 'AWAITING_PAYMENT');
        const paid = await Promise.all(
          winners.map((winner) =>
            pay(stack.client, 'saga', winner.input).then(
              (state) => state.status === 'COMPLETED',
              () => false,
            ),
          ),
        );
        watching = false;
        await watcher;

        const { rows } = await pg.query<{ available: number; reserved: number; sold: number }>(
          'SELECT available, reserved, sold FROM products WHERE id = $1',
          [product.id],
        );
        const stock = rows[0]!;
        const outcome: RoundOutcome = {
          round: r,
          placed: winners.length,
          outOfStock: placements.filter((placement) => placement.code === 'OUT_OF_STOCK').length,
          otherRefusals: [
            ...new Set(
              placements
                .filter((p) => p.status !== 'AWAITING_PAYMENT' && p.code !== 'OUT_OF_STOCK')
                .map((p) => `${p.status} ${p.code ?? ''}`),
            ),
          ],
          paid: paid.filter(Boolean).length,
          sold: stock.sold,
          available: stock.available,
          reserved: stock.reserved,
          minAvailableSeen,
          oversold: Math.max(0, stock.sold + stock.reserved - settings.units) + Math.max(0, -minAvailableSeen),
          conserved: stock.available + stock.reserved + stock.sold === settings.units,
          placementMs: distribution(placements.map((placement) => placement.ms)),
          elapsedS: round((performance.now() - begun) / 1000, 1),
        };
        rounds.push(outcome);
        context.log(
          `  round ${r}: placed ${outcome.placed}, out of stock ${outcome.outOfStock}, sold ${outcome.sold}, available ${outcome.available}, ` +
            `min seen ${minAvailableSeen}, placement p99 ${outcome.placementMs.p99} ms, ${outcome.elapsedS}s`,
        );
      }
    } finally {
      await pg.end();
    }
    const oversoldTotal = rounds.reduce((sum, outcome) => sum + outcome.oversold, 0);
    const exact = rounds.filter(
      (outcome) => outcome.sold === settings.units && outcome.conserved && outcome.minAvailableSeen >= 0,
    ).length;
    const undersold = rounds.filter((outcome) => outcome.sold < settings.units).length;
    return {
      summary: `${exact}/${rounds.length} rounds sold exactly ${settings.units} of ${settings.units} to ${settings.buyers} buyers; oversold_total ${oversoldTotal}, lowest stock seen ${Math.min(...rounds.map((o) => o.minAvailableSeen))}${undersold ? `, ${undersold} rounds undersold` : ''}`,
      headline: { oversold_total: oversoldTotal },
      data: { settings, oversoldTotal, exactRounds: exact, undersoldRounds: undersold, rounds },
    };
  },
};
