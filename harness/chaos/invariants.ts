/**
 * The invariants a chaos run checks afterwards, across the six service databases, the requests
 * the recording proxy saw reach stripe-mock, and the workflows themselves. Each check returns
 * violations; an empty list means the invariant held for every saga of the run. The store's
 * cross-database invariants (stock, payments, reservations, quota, PaymentIntents) are the
 * standing reconciler's own (reconciler/invariants.ts), run here over the run's sagas; the
 * rest are about the run itself (workflows settled, Stripe keys, carts, notifications).
 */
import { Client as PgClient } from 'pg';
import type { ServiceName } from '../../lib/service-names';
import { checkInvariants as checkStoreInvariants } from '../../reconciler/invariants';
import { ALLOWED_TRANSITIONS } from '../../services/orders/order-status';
import { isSold } from '../../lib/orders';
import { TERMINAL_ORDER_STATUSES, type OrderStatus } from '../../workflows/contract';
import type { Catalog, Saga } from './sagas';
import { delay } from './sagas';
import type { RecordedRequest } from '../stripe-proxy';

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
  stripeCalls: readonly RecordedRequest[];
  /** Users other than the sagas' customers whose quota and notifications are checked too (duplicate usage events). */
  extraUsers: readonly string[];
  /** How long notifications still on their way (through the notification workflows) are waited for. */
  notificationDeadline: number;
  /** Whether an order's checkout workflow runs: no saga's order may be left open without one. */
  checkoutRunning: (orderId: string) => Promise<boolean>;
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
    const refunds = await readRefunds(db, input.sagas);
    const ctx = { ...input, db, orders, refunds, report };
    checkSettled(ctx);
    checkRefundSagas(ctx);
    await checkStatusHistory(ctx);
    await checkStore(ctx);
    checkCharges(ctx);
    checkIdempotencyKeys(ctx);
    await checkRefundedOnce(ctx);
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
  /** The refunds after the sale the payments database records for the sagas' orders, by refund id. */
  refunds: Map<string, StoreRefund>;
  report: InvariantReport;
}

interface StoreRefund {
  id: string;
  order_id: string;
  status: string;
  amount_cents: number;
  restock: boolean;
  lines: Array<{ productId: string; quantity: number }>;
}

async function readRefunds(db: Db, sagas: readonly Saga[]): Promise<Ctx['refunds']> {
  const { rows } = await db.payments.query<StoreRefund>(
    `SELECT id, order_id, status::text AS status, amount_cents, restock, lines
       FROM refunds WHERE kind = 'AFTER_SALE' AND order_id = ANY($1::uuid[])`,
    [sagas.map((s) => s.orderId)],
  );
  return new Map(rows.map((r) => [r.id, r]));
}

async function readOrders(db: Db, sagas: readonly Saga[]): Promise<Ctx['orders']> {
  const { rows } = await db.orders.query<{ id: string; status: OrderStatus; customer_id: string }>(
    `SELECT id, status, customer_id FROM orders WHERE id = ANY($1::uuid[])`,
    [sagas.map((s) => s.orderId)],
  );
  return new Map(rows.map((r) => [r.id, { status: r.status, customerId: r.customer_id }]));
}

function violate(ctx: Ctx, invariant: string, detail: string, saga?: Saga): void {
  ctx.report.violations.push({
    invariant,
    detail,
    ...(saga ? { orderId: saga.orderId, scenario: saga.scenario } : {}),
  });
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
      violate(
        ctx,
        'settled',
        `still running at the deadline (order status ${order?.status ?? 'none'}, workflow says ${final?.orderStatus ?? 'unknown'})`,
        saga,
      );
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
    if (!SETTLED.includes(order.status))
      violate(ctx, 'settled', `order status ${order.status} is neither terminal nor NEEDS_ATTENTION`, saga);
    const workflowStatus = final.state?.status ?? final.orderStatus;
    // A completed order refunded since: its checkout returned COMPLETED, its refunds moved the row on.
    const refundedSince = workflowStatus === 'COMPLETED' && isSold(order.status) && saga.refunds.length > 0;
    if (workflowStatus !== order.status && !refundedSince)
      violate(ctx, 'settled', `the workflow says ${workflowStatus}, the orders database ${order.status}`, saga);
  }
}

/**
 * Every refund saga the run started has ended (or waits for an operator), and ended as the payments
 * database records its refund: SUCCEEDED, or FAILED with nothing kept (a request the store refused
 * before recording it has no refund row).
 */
function checkRefundSagas(ctx: Ctx): void {
  for (const saga of ctx.sagas) {
    for (const refund of saga.refunds) {
      count(ctx, 'refund-settled');
      const final = refund.final;
      const row = ctx.refunds.get(refund.refundId);
      const name = `refund ${refund.refundId}`;
      if (!final || (final.execution === 'RUNNING' && !final.state?.needsAttention)) {
        violate(
          ctx,
          'refund-settled',
          `${name} still running at the deadline (its row is ${row?.status ?? 'absent'})`,
          saga,
        );
        continue;
      }
      if (final.execution === 'NONE') {
        if (!refund.answer?.startsWith('refused:'))
          violate(
            ctx,
            'refund-settled',
            `${name} was answered ${refund.answer ?? 'nothing'} and has no workflow`,
            saga,
          );
        if (row) violate(ctx, 'refund-settled', `${name} has a ${row.status} row and no workflow`, saga);
        continue;
      }
      if (final.execution !== 'COMPLETED' && final.execution !== 'RUNNING') {
        violate(ctx, 'refund-settled', `${name}: the workflow ended ${final.execution}`, saga);
        continue;
      }
      if (final.state?.needsAttention) continue; // an operator's to finish
      const status = final.state?.status;
      if (status === 'SUCCEEDED' ? row?.status !== 'SUCCEEDED' : row !== undefined && row.status !== 'FAILED')
        violate(ctx, 'refund-settled', `${name} ended ${status ?? '?'}, its row is ${row?.status ?? 'absent'}`, saga);
    }
  }
}

/** Each order's recorded history is a legal walk of the status machine that ends at its status. */
async function checkStatusHistory(ctx: Ctx): Promise<void> {
  const { rows } = await ctx.db.orders.query<{
    order_id: string;
    from_status: OrderStatus | null;
    to_status: OrderStatus;
  }>(
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
      const legal =
        current === null
          ? step.from_status === null && step.to_status === 'PENDING'
          : step.from_status === current && ALLOWED_TRANSITIONS[current].includes(step.to_status);
      if (!legal) {
        violate(
          ctx,
          'status-history',
          `illegal step ${step.from_status ?? '∅'} → ${step.to_status} after ${current ?? '∅'}`,
          saga,
        );
        break;
      }
      current = step.to_status;
    }
    if (current !== order.status)
      violate(ctx, 'status-history', `history ends at ${current ?? '∅'}, the order is ${order.status}`, saga);
  }
}

/** The reconciler's invariants over this run's orders; what Stripe confirmed (through the proxy) is the PaymentIntent source. */
async function checkStore(ctx: Ctx): Promise<void> {
  const sagaOf = new Map(ctx.sagas.map((s) => [s.orderId, s]));
  const confirmed = [
    ...new Set(
      ctx.stripeCalls
        .filter((c) => c.kind === 'confirm' && c.orderId && c.status !== undefined && c.status < 300)
        .map((c) => c.orderId!),
    ),
  ];
  const store = await checkStoreInvariants({
    db: ctx.db,
    orderIds: ctx.sagas.map((s) => s.orderId),
    paymentIntents: async () => confirmed.map((orderId) => ({ orderId })),
    checkoutRunning: ctx.checkoutRunning,
  });
  for (const [invariant, n] of Object.entries(store.checked)) count(ctx, invariant, n);
  for (const v of store.violations) {
    const saga = v.orderId ? sagaOf.get(v.orderId) : undefined;
    ctx.report.violations.push({
      invariant: v.invariant,
      detail: v.detail,
      ...(saga ? { orderId: saga.orderId, scenario: saga.scenario } : v.orderId ? { orderId: v.orderId } : {}),
    });
  }
}

/** Stripe confirmed at most one charge per order (the proxy's view, which the databases cannot give). */
function checkCharges(ctx: Ctx): void {
  const confirms = groupBy(
    ctx.stripeCalls.filter((c) => c.kind === 'confirm' && c.orderId),
    (c) => c.orderId!,
  );
  for (const saga of ctx.sagas) {
    count(ctx, 'one-payment');
    const charged = new Set(
      (confirms.get(saga.orderId) ?? [])
        .filter((c) => c.status !== undefined && c.status < 300)
        .map((c) => c.idempotencyKey),
    );
    if (charged.size > 1)
      violate(
        ctx,
        'one-payment',
        `Stripe confirmed ${charged.size} different charges (${[...charged].join(', ')})`,
        saga,
      );
  }
}

/** Every request that can move money carries the key derived from its order; every retry of one charge the same one. */
function checkIdempotencyKeys(ctx: Ctx): void {
  const sagaOf = new Map(ctx.sagas.map((s) => [s.orderId, s]));
  const afterSaleOf = (orderId: string) =>
    [...ctx.refunds.values()].filter((r) => r.order_id === orderId).map((r) => r.id);
  const expectedKey: Record<string, (orderId: string) => RegExp> = {
    createIntent: (o) => new RegExp(`^order:${o}:intent$`),
    confirm: (o) => new RegExp(`^order:${o}:confirm:\\d+$`),
    // The checkout's own refund-or-cancel, or a refund after the sale under its refund's id (one of this order's).
    refund: (o) => new RegExp(`^(order:${o}:refund|refund:(${afterSaleOf(o).join('|') || 'none'}))$`),
    cancel: (o) => new RegExp(`^order:${o}:cancel$`),
  };
  for (const call of ctx.stripeCalls) {
    if (call.method !== 'POST') continue;
    count(ctx, 'idempotency-keys');
    const saga = call.orderId ? sagaOf.get(call.orderId) : undefined;
    const pattern = expectedKey[call.kind];
    if (!call.orderId || !pattern) {
      ctx.report.violations.push({
        invariant: 'idempotency-keys',
        detail: `${call.kind} ${call.path} cannot be tied to an order (key ${call.idempotencyKey ?? 'none'})`,
      });
      continue;
    }
    if (!call.idempotencyKey || !pattern(call.orderId).test(call.idempotencyKey)) {
      ctx.report.violations.push({
        invariant: 'idempotency-keys',
        detail: `${call.kind} ${call.path} sent with key ${call.idempotencyKey ?? 'none'}`,
        orderId: call.orderId,
        scenario: saga?.scenario,
      });
    }
  }
  // Every try of one charge attempt shares one key; each order here makes one attempt (a declined-then-cancel saga's only one is declined).
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
      ctx.report.violations.push({
        invariant: 'idempotency-keys',
        detail: `one charge sent with ${keys.size} keys: ${[...keys].join(', ')}`,
        orderId,
        scenario: saga?.scenario,
      });
    }
  }
  ctx.report.evidence.chargesSentMoreThanOnce = retried;
  ctx.report.evidence.stripeRequestsLostToCuts = ctx.stripeCalls.filter(
    (c) => c.status === undefined || !c.delivered,
  ).length;
  ctx.report.evidence.stripeRequests = ctx.stripeCalls.length;
}

/**
 * No payment was refunded twice or beyond what it captured, as Stripe saw it: the refunds Stripe
 * made (every POST it answered 2xx, the held answers included) counted once per idempotency key,
 * since a key sent again is the same refund; each key's tries carry one body; the money of all
 * keys is within the payment; every key Stripe refunded under is a refund the store records as
 * SUCCEEDED, and every refund it records as SUCCEEDED was made at Stripe. The units of each order
 * were put back on sale once: what the restock ledger holds equals what its succeeded refunds asked
 * to restock, never more than the order sold.
 */
async function checkRefundedOnce(ctx: Ctx): Promise<void> {
  const invariant = 'refunded-once';
  const { rows: payments } = await ctx.db.payments.query<{ order_id: string; amount_cents: number }>(
    `SELECT order_id, amount_cents FROM payments WHERE order_id = ANY($1::uuid[])`,
    [ctx.sagas.map((s) => s.orderId)],
  );
  const { rows: restocks } = await ctx.db.inventory.query<{ order_id: string; product_id: string; quantity: number }>(
    `SELECT order_id, product_id, quantity FROM restocks WHERE order_id = ANY($1::uuid[])`,
    [ctx.sagas.map((s) => s.orderId)],
  );
  const captured = new Map(payments.map((p) => [p.order_id, p.amount_cents]));
  const made = groupBy(
    ctx.stripeCalls.filter((c) => c.kind === 'refund' && c.orderId && c.status !== undefined && c.status < 300),
    (c) => c.orderId!,
  );
  let sentAgain = 0;
  for (const saga of ctx.sagas) {
    const paid = captured.get(saga.orderId);
    if (paid === undefined) continue;
    count(ctx, invariant);
    const byKey = groupBy(made.get(saga.orderId) ?? [], (c) => c.idempotencyKey ?? 'none');
    let refunded = 0;
    for (const [key, tries] of byKey) {
      if (tries.length > 1) sentAgain += 1;
      const bodies = new Set(tries.map((t) => t.body));
      if (bodies.size > 1)
        violate(ctx, invariant, `Stripe refunded under ${key} with ${bodies.size} different bodies`, saga);
      const amount = new URLSearchParams(tries[0]!.body).get('amount');
      refunded += amount === null ? paid : Number(amount);
      const afterSale = /^refund:(.+)$/.exec(key)?.[1];
      if (afterSale !== undefined && ctx.refunds.get(afterSale)?.status !== 'SUCCEEDED')
        violate(
          ctx,
          invariant,
          `Stripe refunded under ${key}; the store's refund is ${ctx.refunds.get(afterSale)?.status ?? 'absent'}`,
          saga,
        );
    }
    if (refunded > paid)
      violate(
        ctx,
        invariant,
        `Stripe refunded ${refunded} cents under ${byKey.size} keys of the ${paid} captured`,
        saga,
      );
    const succeeded = [...ctx.refunds.values()].filter((r) => r.order_id === saga.orderId && r.status === 'SUCCEEDED');
    for (const refund of succeeded)
      if (!byKey.has(`refund:${refund.id}`))
        violate(ctx, invariant, `refund ${refund.id} is SUCCEEDED in the store and was never made at Stripe`, saga);
    const wanted = new Map<string, number>();
    for (const refund of succeeded.filter((r) => r.restock))
      for (const line of refund.lines) wanted.set(line.productId, (wanted.get(line.productId) ?? 0) + line.quantity);
    const back = new Map<string, number>();
    for (const r of restocks.filter((r) => r.order_id === saga.orderId))
      back.set(r.product_id, (back.get(r.product_id) ?? 0) + r.quantity);
    for (const productId of new Set([...wanted.keys(), ...back.keys()])) {
      const sold = saga.lines.filter((l) => l.productId === productId).reduce((sum, l) => sum + l.quantity, 0);
      const units = back.get(productId) ?? 0;
      if (units !== (wanted.get(productId) ?? 0) || units > sold)
        violate(
          ctx,
          invariant,
          `${units} units of ${productId} put back on sale; its succeeded refunds asked for ${wanted.get(productId) ?? 0} of the ${sold} sold`,
          saga,
        );
    }
  }
  ctx.report.evidence.refundsSentMoreThanOnce = sentAgain;
  ctx.report.evidence.refundsAtStripe = [...made.values()].reduce(
    (n, calls) => n + new Set(calls.map((c) => c.idempotencyKey)).size,
    0,
  );
}

/** What a paid order bought left its customer's cart exactly once; nothing else did. */
async function checkCarts(ctx: Ctx): Promise<void> {
  const customers = [...ctx.carts.keys()];
  const { rows: items } = await ctx.db.cart.query<{ user_id: string; product_id: string; quantity: number }>(
    `SELECT user_id, product_id, quantity FROM cart_items WHERE user_id = ANY($1)`,
    [customers],
  );
  const { rows: clearings } = await ctx.db.cart.query<{ order_id: string }>(
    `SELECT order_id FROM cart_clearings WHERE user_id = ANY($1)`,
    [customers],
  );
  const cleared = new Set(clearings.map((c) => c.order_id));
  for (const [customerId, initial] of ctx.carts) {
    const sagas = ctx.sagas.filter((s) => s.customerId === customerId);
    if (sagas.some((s) => !finished(ctx, s))) continue; // a parked order may still clear the cart
    for (const [productId, quantity] of initial) {
      count(ctx, 'cart-cleared-once');
      const bought = sagas
        .filter((s) => isSold(ctx.orders.get(s.orderId)?.status ?? ''))
        .flatMap((s) => s.lines)
        .filter((l) => l.productId === productId)
        .reduce((sum, l) => sum + l.quantity, 0);
      const left = items.find((i) => i.user_id === customerId && i.product_id === productId)?.quantity ?? 0;
      if (left !== Math.max(quantity - bought, 0)) {
        ctx.report.violations.push({
          invariant: 'cart-cleared-once',
          detail: `${customerId}: ${left} of product ${productId} left, expected ${quantity} - ${bought}`,
        });
      }
    }
    for (const saga of sagas) {
      const completed = isSold(ctx.orders.get(saga.orderId)?.status ?? '');
      if (completed !== cleared.has(saga.orderId))
        violate(
          ctx,
          'cart-cleared-once',
          completed ? 'the cart was never cleared' : 'the cart was cleared for an order that was not paid',
          saga,
        );
    }
  }
}

/**
 * One notification per dedupe key, per-user sequences without gaps, and each finished order's
 * final status delivered (waiting up to the deadline for the notification workflows to persist it).
 */
async function checkNotifications(ctx: Ctx): Promise<void> {
  const customers = [...new Set([...ctx.sagas.map((s) => s.customerId), ...ctx.extraUsers])];
  const wanted = ctx.sagas
    .filter((s) => finished(ctx, s))
    .map((s) => ({ saga: s, key: `order:${s.orderId}:${ctx.orders.get(s.orderId)!.status}` }));
  let missing = wanted;
  for (;;) {
    const { rows } = await ctx.db.notifications.query<{ dedupe_key: string }>(
      `SELECT dedupe_key FROM notifications WHERE dedupe_key = ANY($1)`,
      [missing.map((w) => w.key)],
    );
    const present = new Set(rows.map((r) => r.dedupe_key));
    missing = missing.filter((w) => !present.has(w.key));
    if (missing.length === 0 || Date.now() > ctx.notificationDeadline) break;
    await delay(250);
  }
  count(ctx, 'notifications-once', wanted.length);
  for (const { saga, key } of missing)
    violate(ctx, 'notifications-once', `the ${key.split(':')[2]} notification was never delivered`, saga);

  const { rows: duplicates } = await ctx.db.notifications.query<{ user_id: string; dedupe_key: string; n: string }>(
    `SELECT user_id, dedupe_key, COUNT(*) AS n FROM notifications WHERE user_id = ANY($1) GROUP BY user_id, dedupe_key HAVING COUNT(*) > 1`,
    [customers],
  );
  for (const d of duplicates)
    ctx.report.violations.push({
      invariant: 'notifications-once',
      detail: `${d.user_id}: ${d.n} notifications with dedupe key ${d.dedupe_key}`,
    });
  const { rows: sequences } = await ctx.db.notifications.query<{
    user_id: string;
    n: string;
    max: number | null;
    last: number | null;
  }>(
    `SELECT u.user_id, COUNT(n.id) AS n, MAX(n.sequence) AS max, u.last_sequence AS last
     FROM user_sequences u LEFT JOIN notifications n ON n.user_id = u.user_id
     WHERE u.user_id = ANY($1) GROUP BY u.user_id, u.last_sequence`,
    [customers],
  );
  for (const s of sequences) {
    count(ctx, 'notifications-once');
    const n = Number(s.n);
    if ((s.max ?? 0) !== n || s.last !== n) {
      ctx.report.violations.push({
        invariant: 'notifications-once',
        detail: `${s.user_id}: ${n} notifications but sequences up to ${s.max} and last_sequence ${s.last} (a gap or a duplicate)`,
      });
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
