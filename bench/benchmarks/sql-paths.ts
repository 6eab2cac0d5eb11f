/**
 * Prisma or plain SQL, measured: the same work on one orders database, through the Prisma client
 * and as plain SQL on the pool it shares (lib/db/service-db.ts), in this process. CPU per call
 * (`process.cpuUsage()`, the whole process: nothing else runs in it meanwhile) and wall time, for
 * - one statement: a read by primary key, `pool.query` against `$queryRaw`;
 * - a transaction of two statements: `inSqlTransaction` against Prisma's interactive `$transaction`;
 * - an order step's answer: Prisma's `findUnique` with the order's lines and history (three
 *   statements; the steps read the order back so before) against the one statement a step now is
 *   (`move` to the status the order is in: the row locked and read, nothing written).
 * Paths alternate ABBA over rounds; figures are the median over rounds. The choice it informs:
 * plain SQL for the checkout's steps, which run for every order; Prisma for reads built from a
 * request (docs/performance.md, "Round 3").
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { inSqlTransaction } from '../../lib/db/sql-transaction';
import { createOrdersDb } from '../../services/orders/db';
import type { BenchContext, Benchmark } from '../lib/context';
import { median, round } from '../lib/stats';

interface PathCost {
  cpuMsPerCall: number;
  wallMsPerCall: number;
}

interface Comparison {
  name: string;
  prisma: () => Promise<unknown>;
  sql: () => Promise<unknown>;
}

async function costOf(call: () => Promise<unknown>, calls: number): Promise<PathCost> {
  const cpu = process.cpuUsage();
  const begun = performance.now();
  for (let i = 0; i < calls; i++) await call();
  const used = process.cpuUsage(cpu);
  return { cpuMsPerCall: (used.user + used.system) / 1000 / calls, wallMsPerCall: (performance.now() - begun) / calls };
}

export const sqlPathsBenchmark: Benchmark = {
  name: 'sql-paths',
  title:
    'Prisma or plain SQL on the same pool: CPU and wall time per statement, per two-statement transaction, per order read',
  async run(context: BenchContext) {
    const settings = context.quick ? { rounds: 2, calls: 300 } : { rounds: 6, calls: 2_000 };
    const db = createOrdersDb(context.stack.databases.orders, {
      max: 2,
      connectionTimeoutMs: 15_000,
      statementTimeoutMs: 30_000,
    });
    try {
      const { orders } = context.stack.services;
      const order = await orders.record({
        orderId: randomUUID(),
        customerId: 'bench-sql-paths',
        currency: 'usd',
        lines: [{ productId: randomUUID(), sku: 'SQL-PATHS', name: 'SQL paths', quantity: 1, unitPriceCents: 100 }],
      });
      const id = order.id;
      const comparisons: Comparison[] = [
        {
          name: 'one statement (a read by id)',
          prisma: () => db.$queryRaw`SELECT status FROM orders WHERE id = ${id}::uuid`,
          sql: () => db.sql.query('SELECT status FROM orders WHERE id = $1', [id]),
        },
        {
          name: 'a transaction of two statements',
          prisma: () =>
            db.$transaction(async (tx) => {
              await tx.$queryRaw`SELECT status FROM orders WHERE id = ${id}::uuid FOR UPDATE`;
              await tx.$queryRaw`SELECT count(*) FROM order_status_changes WHERE order_id = ${id}::uuid`;
            }),
          sql: () =>
            inSqlTransaction(db.sql, async (client) => {
              await client.query('SELECT status FROM orders WHERE id = $1 FOR UPDATE', [id]);
              await client.query('SELECT count(*) FROM order_status_changes WHERE order_id = $1', [id]);
            }),
        },
        {
          name: "an order step's answer (Prisma: the order with lines and history; SQL: the step's one statement)",
          prisma: () => orders.get(id),
          sql: () => orders.move({ orderId: id, to: 'PENDING' }),
        },
      ];
      const rounds: Record<string, { prisma: PathCost[]; sql: PathCost[] }> = {};
      for (const comparison of comparisons) {
        const seen = (rounds[comparison.name] = { prisma: [] as PathCost[], sql: [] as PathCost[] });
        // Warm both paths (connections, prepared plans, JIT) before anything is counted.
        await costOf(comparison.prisma, 100);
        await costOf(comparison.sql, 100);
        for (let round = 0; round < settings.rounds; round++) {
          const order =
            round % 4 === 0 || round % 4 === 3 ? (['prisma', 'sql'] as const) : (['sql', 'prisma'] as const);
          for (const side of order) seen[side].push(await costOf(comparison[side], settings.calls));
        }
      }
      const figures = Object.entries(rounds).map(([name, seen]) => {
        const medianOf = (costs: PathCost[], key: keyof PathCost) => round(median(costs.map((cost) => cost[key])), 3);
        const prisma = {
          cpuMsPerCall: medianOf(seen.prisma, 'cpuMsPerCall'),
          wallMsPerCall: medianOf(seen.prisma, 'wallMsPerCall'),
        };
        const sql = {
          cpuMsPerCall: medianOf(seen.sql, 'cpuMsPerCall'),
          wallMsPerCall: medianOf(seen.sql, 'wallMsPerCall'),
        };
        return { name, prisma, sql, cpuRatio: round(sql.cpuMsPerCall / prisma.cpuMsPerCall, 2) };
      });
      for (const figure of figures)
        context.log(
          `  ${figure.name}: Prisma ${figure.prisma.cpuMsPerCall} ms CPU / ${figure.prisma.wallMsPerCall} ms wall, ` +
            `plain SQL ${figure.sql.cpuMsPerCall} / ${figure.sql.wallMsPerCall} (CPU ×${figure.cpuRatio})`,
        );
      return {
        summary: `plain SQL's CPU per call ÷ Prisma's: ${figures.map((figure) => `${figure.name} ×${figure.cpuRatio}`).join('; ')}`,
        headline: {},
        data: { settings, figures, rounds },
      };
    } finally {
      await db.$disconnect();
    }
  },
};
