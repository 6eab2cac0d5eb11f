/**
 * The invariants a chaos run checks afterwards, across the six service databases, the requests
 * the recording proxy saw reach stripe-mock, and the workflows themselves. Each check returns
 * violations; an empty list means the invariant held for every saga of the run.
 */
import { Client as PgClient } from 'pg';
import type { ServiceName } from '../../lib/services';
import { ALLOWED_TRANSITIONS } from '../../services/orders/order-status';
import { TERMINAL_ORDER_STATUSES, type OrderStatus } from '../../workflows/contract';
import type { Catalog, Saga } from './sagas';
import { delay } from './sagas';
import type { StripeCall } from './stripe-proxy';

export interface Violation {
  invariant: string;
  detail: string;
  orderId?: string;
  scenario?: string;
}

export interface InvariantInput {
  urls: Record<ServiceName, string>;
  sagas: readonly Saga[];
  catalog: Catalog;
  carts: ReadonlyMap<string, ReadonlyMap<string, number>>;
  stripeCalls: readonly StripeCall[];
  /** Users other than the sagas' customers whose quota and notifications are checked too (duplicate usage events). */
  extraUsers: readonly string[];
  /** How long notifications still on their way (through the notification workflows) are waited for. */
  notificationDeadline: number;
}

export interface InvariantReport {
  /** Per invariant: how many things it looked at. */
  checked: Record<string, number>;
  violations: Violation[];
  /** Facts that show the chaos was felt (retried charges, requests lost to a cut...). */
  evidence: Record<string, number>;
}

type Db = Record<ServiceName, PgClient>;

const SETTLED: readonly string[] = [...TERMINAL_ORDER_STATUSES, 'NEEDS_ATTENTION'];

export async function checkInvariants(input: InvariantInput): Promise<InvariantReport> {
  const db = {} as Db;
  for (const [service, url] of Object.entries(input.urls) as Array<[ServiceName, string]>) {
    db[service] = new PgClient({ connectionString: url });
    await db[service].connect();
  }
  const report: InvariantReport = { checked: {}, violations: [], evidence: {} };
  try {
    const orders = await readOrders(db, input.sagas);
    const ctx = { ...input, db, orders, report };
    checkSettled(ctx);
    await checkStatusHistory(ctx);
    await checkStock(ctx);
    await checkPayments(ctx);
    checkIdempotencyKeys(ctx);
    await checkQuota(ctx);
    await checkCarts(ctx);
    await checkNotifications(ctx);
  } finally {
    await Promise.all(Object.values(db).map((client) => client.end().catch(() => undefined)));
  }
  return report;
}

interface Ctx extends InvariantInput {
  db: Db;
  /** Each saga's order row (status from the orders database), by order id. */
  orders: Map<string, { status: OrderStatus; customerId: string }>;
  report: InvariantReport;
}

async function readOrders(db: Db, sagas: readonly Saga[]): Promise<Ctx['orders']> {
  const { rows } = await db.orders.query<{ id: string; status: OrderStatus; customer_id: string }>(
    `SELECT id, status, customer_id FROM orders WHERE id = ANY($1::uuid[])`,
    [sagas.map((s) => s.orderId)],
  );
  return new Map(rows.map((r) => [r.id, { status: r.status, customerId: r.customer_id }]));
}

function violate(ctx: Ctx, invariant: string, detail: string, saga?: Saga): void {
  ctx.report.violations.push({ invariant, detail, ...(saga ? { orderId: saga.orderId, scenario: saga.scenario } : {}) });
}

function count(ctx: Ctx, invariant: string, n = 1): void {
  ctx.report.checked[invariant] = (ctx.report.checked[invariant] ?? 0) + n;
}

/** Orders whose saga finished unwinding or completing: NEEDS_ATTENTION ones are still an operator's to finish. */
function finished(ctx: Ctx, saga: Saga): boolean {
  const status = ctx.orders.get(saga.orderId)?.status;
  return status !== undefined && status !== 'NEEDS_ATTENTION' && SETTLED.includes(status);
}

/** Every order ends in a terminal state or NEEDS_ATTENTION, its workflow agrees, and none is stuck. */
function checkSettled(ctx: Ctx): void {
  for (const saga of ctx.sagas) {
    count(ctx, 'settled');
    const final = saga.final;
    const order = ctx.orders.get(saga.orderId);
    if (!final || (final.execution === 'RUNNING' && final.orderStatus !== 'NEEDS_ATTENTION')) {
      violate(ctx, 'settled', `still running at the deadline (order status ${order?.status ?? 'none'}, workflow says ${final?.orderStatus ?? 'unknown'})`, saga);
      continue;
    }
    if (final.execution !== 'RUNNING' && final.execution !== 'COMPLETED') {
      violate(ctx, 'settled', `the workflow ended ${final.execution} instead of returning the order`, saga);
      continue;
    }
    if (!order) {
      violate(ctx, 'settled', 'no order row', saga);
      continue;
    }
    if (!SETTLED.includes(order.status)) violate(ctx, 'settled', `order status ${order.status} is neither terminal nor NEEDS_ATTENTION`, saga);
    const workflowStatus = final.state?.status ?? final.orderStatus;
    if (workflowStatus !== order.status) violate(ctx, 'settled', `the workflow says ${workflowStatus}, the orders database ${order.status}`, saga);
  }
}

/** Each order's recorded history is a legal walk of the status machine that ends at its status. */
async function checkStatusHistory(ctx: Ctx): Promise<void> {
  const { rows } = await ctx.db.orders.query<{ order_id: string; from_status: OrderStatus | null; to_status: OrderStatus }>(
    `SELECT order_id, from_status, to_status FROM order_status_changes WHERE order_id = ANY($1::uuid[]) ORDER BY order_id, id`,
    [ctx.sagas.map((s) => s.orderId)],
  );
  const histories = groupBy(rows, (r) => r.order_id);
  for (const saga of ctx.sagas) {
    const order = ctx.orders.get(saga.orderId);
    if (!order) continue;
    count(ctx, 'status-history');
    const steps = histories.get(saga.orderId) ?? [];
    let current: OrderStatus | null = null;
    for (const step of steps) {
      const legal = current === null ? step.from_status === null && step.to_status === 'PENDING' : step.from_status === current && ALLOWED_TRANSITIONS[current].includes(step.to_status);
      if (!legal) {
        violate(ctx, 'status-history', `illegal step ${step.from_status ?? '∅'} → ${step.to_status} after ${current ?? '∅'}`, saga);
        break;
      }
      current = step.to_status;
    }
    if (current !== order.status) violate(ctx, 'status-history', `history ends at ${current ?? '∅'}, the order is ${order.status}`, saga);
  }
}

/** initial = available + reserved + sold for every product, the buckets match the reservations, and each order's reservation matches how it ended. */
async function checkStock(ctx: Ctx): Promise<void> {
  const { rows: products } = await ctx.db.inventory.query<{ id: string; sku: string; available: number; reserved: number; sold: number }>(
    `SELECT id, sku, available, reserved, sold FROM products WHERE id = ANY($1::uuid[])`,
    [ctx.catalog.all.map((p) => p.id)],
  );
  const { rows: held } = await ctx.db.inventory.query<{ product_id: string; status: string; quantity: string }>(
    `SELECT l.product_id, r.status, SUM(l.quantity) AS quantity FROM reservation_lines l JOIN reservations r ON r.id = l.reservation_id
     GROUP BY l.product_id, r.status`,
  );
  for (const product of ctx.catalog.all) {
    count(ctx, 'stock-conserved');
    const row = products.find((p) => p.id === product.id);
    if (!row) {
      ctx.report.violations.push({ invariant: 'stock-conserved', detail: `product ${product.sku} is gone` });
      continue;
    }
    const total = row.available + row.reserved + row.sold;
    const bucket = (status: string) => Number(held.find((h) => h.product_id === product.id && h.status === status)?.quantity ?? 0);
    const problems: string[] = [];
    if (total !== product.initial) problems.push(`initial ${product.initial} ≠ available ${row.available} + reserved ${row.reserved} + sold ${row.sold}`);
    if (row.available < 0 || row.reserved < 0 || row.sold < 0) problems.push('a bucket is negative');
    if (row.reserved !== bucket('HELD')) problems.push(`reserved ${row.reserved} ≠ ${bucket('HELD')} held by reservations`);
    if (row.sold !== bucket('COMMITTED')) problems.push(`sold ${row.sold} ≠ ${bucket('COMMITTED')} committed by reservations`);
    for (const problem of problems) ctx.report.violations.push({ invariant: 'stock-conserved', detail: `${product.sku}: ${problem}` });
  }

  const { rows: reservations } = await ctx.db.inventory.query<{ order_id: string; status: string }>(
    `SELECT order_id, status FROM reservations WHERE order_id = ANY($1::uuid[])`,
    [ctx.sagas.map((s) => s.orderId)],
  );
  const byOrder = new Map(reservations.map((r) => [r.order_id, r.status]));
  for (const saga of ctx.sagas) {
    if (!finished(ctx, saga)) continue;
    count(ctx, 'stock-conserved');
    const status = ctx.orders.get(saga.orderId)!.status;
    const reservation = byOrder.get(saga.orderId);
    if (status === 'COMPLETED' && reservation !== 'COMMITTED') violate(ctx, 'stock-conserved', `a completed order's reservation is ${reservation ?? 'missing'}`, saga);
    if (status !== 'COMPLETED' && reservation !== undefined && reservation !== 'RELEASED') {
      violate(ctx, 'stock-conserved', `a ${status} order still holds its stock (${reservation})`, saga);
    }
  }
}

/** At most one successful charge per order, and money is kept only for completed orders. */
async function checkPayments(ctx: Ctx): Promise<void> {
  const { rows } = await ctx.db.payments.query<{ order_id: string; status: string; refunds: string; succeeded_attempts: string }>(
    `SELECT p.order_id, p.status,
            (SELECT COUNT(*) FROM refunds f WHERE f.payment_id = p.id) AS refunds,
            (SELECT COUNT(*) FROM payment_attempts a WHERE a.payment_id = p.id AND a.outcome = 'SUCCEEDED') AS succeeded_attempts
     FROM payments p WHERE p.order_id = ANY($1::uuid[])`,
    [ctx.sagas.map((s) => s.orderId)],
  );
  const payments = new Map(rows.map((r) => [r.order_id, r]));
  const confirms = groupBy(
    ctx.stripeCalls.filter((c) => c.kind === 'confirm' && c.orderId),
    (c) => c.orderId!,
  );
  for (const saga of ctx.sagas) {
    count(ctx, 'one-payment');
    const charged = new Set((confirms.get(saga.orderId) ?? []).filter((c) => c.status !== undefined && c.status < 300).map((c) => c.idempotencyKey));
    if (charged.size > 1) violate(ctx, 'one-payment', `Stripe confirmed ${charged.size} different charges (${[...charged].join(', ')})`, saga);
    const payment = payments.get(saga.orderId);
    if (payment && Number(payment.succeeded_attempts) > 1) violate(ctx, 'one-payment', `${payment.succeeded_attempts} attempts recorded as succeeded`, saga);
    if (!finished(ctx, saga)) continue;
    const status = ctx.orders.get(saga.orderId)!.status;
    if (status === 'COMPLETED') {
      if (payment?.status !== 'SUCCEEDED' || Number(payment.refunds) > 0) {
        violate(ctx, 'one-payment', `a completed order's payment is ${payment?.status ?? 'missing'}${Number(payment?.refunds) > 0 ? ' (refunded)' : ''}`, saga);
      }
    } else if (payment && payment.status !== 'CANCELED' && payment.status !== 'REFUNDED') {
      violate(ctx, 'one-payment', `a ${status} order's payment is left ${payment.status}`, saga);
    }
  }
}

/** Every request that can move money carries the key derived from its order; every retry of one charge the same one. */
function checkIdempotencyKeys(ctx: Ctx): void {
  const sagaOf = new Map(ctx.sagas.map((s) => [s.orderId, s]));
  const expectedKey: Record<string, (orderId: string) => RegExp> = {
    createIntent: (o) => new RegExp(`^order:${o}:intent$`),
    confirm: (o) => new RegExp(`^order:${o}:confirm:\\d+$`),
    refund: (o) => new RegExp(`^order:${o}:refund$`),
    cancel: (o) => new RegExp(`^order:${o}:cancel$`),
  };
  for (const call of ctx.stripeCalls) {
    if (call.method !== 'POST') continue;
    count(ctx, 'idempotency-keys');
    const saga = call.orderId ? sagaOf.get(call.orderId) : undefined;
    const pattern = expectedKey[call.kind];
    if (!call.orderId || !pattern) {
      ctx.report.violations.push({ invariant: 'idempotency-keys', detail: `${call.kind} ${call.path} cannot be tied to an order (key ${call.idempotencyKey ?? 'none'})` });
      continue;
    }
    if (!call.idempotencyKey || !pattern(call.orderId).test(call.idempotencyKey)) {
      ctx.report.violations.push({ invariant: 'idempotency-keys', detail: `${call.kind} ${call.path} sent with key ${call.idempotencyKey ?? 'none'}`, orderId: call.orderId, scenario: saga?.scenario });
    }
  }
  // Every try of one charge: stripe-mock never declines, so each order has one charge attempt, and all its confirmations one key.
  const confirms = groupBy(
    ctx.stripeCalls.filter((c) => c.kind === 'confirm' && c.orderId),
    (c) => c.orderId!,
  );
  let retried = 0;
  for (const [orderId, calls] of confirms) {
    const keys = new Set(calls.map((c) => c.idempotencyKey));
    if (calls.length > 1) retried += 1;
    if (keys.size > 1) {
      const saga = sagaOf.get(orderId);
      ctx.report.violations.push({ invariant: 'idempotency-keys', detail: `one charge sent with ${keys.size} keys: ${[...keys].join(', ')}`, orderId, scenario: saga?.scenario });
    }
  }
  ctx.report.evidence.chargesSentMoreThanOnce = retried;
  ctx.report.evidence.stripeRequestsLostToCuts = ctx.stripeCalls.filter((c) => c.status === undefined || !c.delivered).length;
  ctx.report.evidence.stripeRequests = ctx.stripeCalls.length;
}

/** A customer's orders quota counts exactly the orders that count (completed ones), and every usage row equals its events. */
async function checkQuota(ctx: Ctx): Promise<void> {
  const customers = [...new Set([...ctx.sagas.map((s) => s.customerId), ...ctx.extraUsers])];
  const { rows: events } = await ctx.db.quota.query<{ user_id: string; idempotency_key: string; resource: string; period: string; quantity: number; released: boolean }>(
    `SELECT user_id, idempotency_key, resource, period, quantity, released_at IS NOT NULL AS released FROM usage_events WHERE user_id = ANY($1)`,
    [customers],
  );
  const { rows: usage } = await ctx.db.quota.query<{ user_id: string; resource: string; period: string; used: number }>(
    `SELECT user_id, resource, period, used FROM usage WHERE user_id = ANY($1)`,
    [customers],
  );
  for (const row of usage) {
    count(ctx, 'quota-matches-orders');
    const counted = events
      .filter((e) => e.user_id === row.user_id && e.resource === row.resource && e.period === row.period && !e.released)
      .reduce((sum, e) => sum + e.quantity, 0);
    if (counted !== row.used) {
      ctx.report.violations.push({ invariant: 'quota-matches-orders', detail: `${row.user_id} ${row.resource} ${row.period}: used ${row.used} ≠ ${counted} from its events` });
    }
  }
  const counting = new Set(events.filter((e) => e.resource === 'orders' && !e.released).map((e) => e.idempotency_key));
  for (const saga of ctx.sagas) {
    if (!finished(ctx, saga)) continue;
    count(ctx, 'quota-matches-orders');
    const completed = ctx.orders.get(saga.orderId)!.status === 'COMPLETED';
    const counts = counting.has(`order:${saga.orderId}`);
    if (completed !== counts) {
      violate(ctx, 'quota-matches-orders', completed ? 'a completed order does not count against the quota' : `a ${ctx.orders.get(saga.orderId)!.status} order still counts against the quota`, saga);
    }
  }
}

/** What a paid order bought left its customer's cart exactly once; nothing else did. */
async function checkCarts(ctx: Ctx): Promise<void> {
  const customers = [...ctx.carts.keys()];
  const { rows: items } = await ctx.db.cart.query<{ user_id: string; product_id: string; quantity: number }>(
    `SELECT user_id, product_id, quantity FROM cart_items WHERE user_id = ANY($1)`,
    [customers],
  );
  const { rows: clearings } = await ctx.db.cart.query<{ order_id: string }>(`SELECT order_id FROM cart_clearings WHERE user_id = ANY($1)`, [customers]);
  const cleared = new Set(clearings.map((c) => c.order_id));
  for (const [customerId, initial] of ctx.carts) {
    const sagas = ctx.sagas.filter((s) => s.customerId === customerId);
    if (sagas.some((s) => !finished(ctx, s))) continue; // a parked order may still clear the cart
    for (const [productId, quantity] of initial) {
      count(ctx, 'cart-cleared-once');
      const bought = sagas
        .filter((s) => ctx.orders.get(s.orderId)?.status === 'COMPLETED')
        .flatMap((s) => s.lines)
        .filter((l) => l.productId === productId)
        .reduce((sum, l) => sum + l.quantity, 0);
      const left = items.find((i) => i.user_id === customerId && i.product_id === productId)?.quantity ?? 0;
      if (left !== Math.max(quantity - bought, 0)) {
        ctx.report.violations.push({ invariant: 'cart-cleared-once', detail: `${customerId}: ${left} of product ${productId} left, expected ${quantity} - ${bought}` });
      }
    }
    for (const saga of sagas) {
      const completed = ctx.orders.get(saga.orderId)?.status === 'COMPLETED';
      if (completed !== cleared.has(saga.orderId)) violate(ctx, 'cart-cleared-once', completed ? 'the cart was never cleared' : 'the cart was cleared for an order that was not paid', saga);
    }
  }
}

/**
 * One notification per dedupe key, per-user sequences without gaps, and each finished order's
 * final status delivered (waiting up to the deadline for the notification workflows to persist it).
 */
async function checkNotifications(ctx: Ctx): Promise<void> {
  const customers = [...new Set([...ctx.sagas.map((s) => s.customerId), ...ctx.extraUsers])];
  const wanted = ctx.sagas.filter((s) => finished(ctx, s)).map((s) => ({ saga: s, key: `order:${s.orderId}:${ctx.orders.get(s.orderId)!.status}` }));
  let missing = wanted;
  for (;;) {
    const { rows } = await ctx.db.notifications.query<{ dedupe_key: string }>(`SELECT dedupe_key FROM notifications WHERE dedupe_key = ANY($1)`, [
      missing.map((w) => w.key),
    ]);
    const present = new Set(rows.map((r) => r.dedupe_key));
    missing = missing.filter((w) => !present.has(w.key));
    if (missing.length === 0 || Date.now() > ctx.notificationDeadline) break;
    await delay(250);
  }
  count(ctx, 'notifications-once', wanted.length);
  for (const { saga, key } of missing) violate(ctx, 'notifications-once', `the ${key.split(':')[2]} notification was never delivered`, saga);

  const { rows: duplicates } = await ctx.db.notifications.query<{ user_id: string; dedupe_key: string; n: string }>(
    `SELECT user_id, dedupe_key, COUNT(*) AS n FROM notifications WHERE user_id = ANY($1) GROUP BY user_id, dedupe_key HAVING COUNT(*) > 1`,
    [customers],
  );
  for (const d of duplicates) ctx.report.violations.push({ invariant: 'notifications-once', detail: `${d.user_id}: ${d.n} notifications with dedupe key ${d.dedupe_key}` });
  const { rows: sequences } = await ctx.db.notifications.query<{ user_id: string; n: string; max: number | null; last: number | null }>(
    `SELECT u.user_id, COUNT(n.id) AS n, MAX(n.sequence) AS max, u.last_sequence AS last
     FROM user_sequences u LEFT JOIN notifications n ON n.user_id = u.user_id
     WHERE u.user_id = ANY($1) GROUP BY u.user_id, u.last_sequence`,
    [customers],
  );
  for (const s of sequences) {
    count(ctx, 'notifications-once');
    const n = Number(s.n);
    if ((s.max ?? 0) !== n || s.last !== n) {
      ctx.report.violations.push({ invariant: 'notifications-once', detail: `${s.user_id}: ${n} notifications but sequences up to ${s.max} and last_sequence ${s.last} (a gap or a duplicate)` });
    }
  }
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const group = groups.get(k);
    if (group) group.push(item);
    else groups.set(k, [item]);
  }
  return groups;
}
