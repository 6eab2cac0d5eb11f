/**
 * The store's cross-database invariants, in one place: the standing reconciler (a Temporal
 * Schedule and `npm run ops -- reconcile`) and the chaos run both call checkInvariants. Each check
 * reads the service databases directly (read-only, one query per table it needs) because no
 * single service can see a drift between two of them; a check repairs nothing.
 * docs/reconciler.md explains each invariant and what an operator does about a violation.
 */

import type { RunReport, Violation as RecordedViolation } from '../services/orders/findings.service';
import { isUuid } from '../lib/ids';

/** The invariants, by name: the metric label, the report's headings and the operator entries use these. */
export const INVARIANTS = {
  stockConserved: 'stock-conserved',
  onePayment: 'one-payment',
  noLiveReservation: 'no-live-reservation',
  quotaMatchesOrders: 'quota-matches-orders',
  paymentIntentMatched: 'payment-intent-matched',
  orderHasWorkflow: 'order-has-workflow',
  refundsConsistent: 'refunds-consistent',
} as const;
export type InvariantName = (typeof INVARIANTS)[keyof typeof INVARIANTS];

/** A drift, as the orders database records it (services/orders/findings.service.ts), named by its invariant. */
export interface Violation extends RecordedViolation {
  invariant: InvariantName;
}

export interface InvariantReport extends RunReport {
  /** Per invariant: how many things it looked at. */
  checked: Record<InvariantName, number>;
  violations: Violation[];
  /** Invariants that could not be checked, and why (e.g. no PaymentIntent source with stripe-mock). */
  skipped: Partial<Record<InvariantName, string>>;
}

/** Anything with pg's `query` (a Client or a Pool). */
export interface Queryable {
  query<R extends object = Record<string, unknown>>(sql: string, values?: unknown[]): Promise<{ rows: R[] }>;
}

/**
 * A PaymentIntent that succeeded at Stripe: by its id (Stripe's list API), or, where only the
 * order is known (a recording proxy in front of stripe-mock, which keeps no PaymentIntents), by
 * the order it was confirmed for.
 */
export interface SucceededPaymentIntent {
  id?: string;
  orderId?: string;
  amountCents?: number;
}

/** A refund Stripe made (or is making), as its list API shows it. */
export interface StripeRefund {
  id: string;
  amountCents: number;
  /** When Stripe made it: a refund younger than the grace may not be recorded yet. */
  created: Date;
  orderId?: string;
}

export interface InvariantInput {
  db: Record<'inventory' | 'orders' | 'payments' | 'quota', Queryable>;
  /** Refunds at Stripe (real Stripe only: stripe-mock keeps none); each must be one the payments service recorded. */
  stripeRefunds?: () => Promise<StripeRefund[]>;
  /** Succeeded PaymentIntents at Stripe (or, with stripe-mock, as recorded in front of it); undefined skips that invariant. */
  paymentIntents?: () => Promise<SucceededPaymentIntent[]>;
  /**
   * A saga takes its quota unit before it creates its order, and a reservation can outlive an order
   * only until the saga's next step: rows younger than this are in flight, not drift.
   */
  graceSeconds?: number;
  /** Restricts the order-scoped checks to these orders (the chaos run's sagas); all orders by default. */
  orderIds?: readonly string[];
  /**
   * Whether the order's checkout workflow is running (asked of Temporal by workflow id); undefined
   * skips the stranded-order invariant (no Temporal to ask).
   */
  checkoutRunning?: (orderId: string) => Promise<boolean>;
}

const ENDED_UNPAID = ['REJECTED', 'EXPIRED', 'CANCELLED', 'FAILED'];
/** Sold orders (lib/orders.ts SOLD_ORDER_STATUSES): their stock stays sold but for restocked units, their quota unit counted. */
const SOLD = ['COMPLETED', 'PARTIALLY_REFUNDED', 'REFUNDED'];
const PAID = ['PAID', ...SOLD];

interface Ctx extends InvariantInput {
  report: InvariantReport;
  orders: Map<string, { status: string; customerId: string }>;
  cutoff: Date;
}

export async function checkInvariants(input: InvariantInput): Promise<InvariantReport> {
  const report: InvariantReport = {
    checked: {
      'stock-conserved': 0,
      'one-payment': 0,
      'no-live-reservation': 0,
      'quota-matches-orders': 0,
      'payment-intent-matched': 0,
      'order-has-workflow': 0,
      'refunds-consistent': 0,
    },
    violations: [],
    skipped: {},
  };
  const { rows } = await input.db.orders.query<{ id: string; status: string; customer_id: string }>(
    input.orderIds
      ? `SELECT id, status, customer_id FROM orders WHERE id = ANY($1::uuid[])`
      : `SELECT id, status, customer_id FROM orders`,
    input.orderIds ? [input.orderIds] : [],
  );
  const ctx: Ctx = {
    ...input,
    report,
    orders: new Map(rows.map((r) => [r.id, { status: r.status, customerId: r.customer_id }])),
    cutoff: new Date(Date.now() - (input.graceSeconds ?? 60) * 1000),
  };
  await checkStock(ctx);
  await checkReservations(ctx);
  await checkPayments(ctx);
  await checkQuota(ctx);
  await checkPaymentIntents(ctx);
  await checkOpenOrdersHaveWorkflows(ctx);
  await checkRefunds(ctx);
  return report;
}

function violate(
  ctx: Ctx,
  invariant: InvariantName,
  subject: string,
  detail: string,
  ids: { orderId?: string; productId?: string } = {},
): void {
  ctx.report.violations.push({ invariant, key: `${invariant}:${subject}`, detail, ...ids });
}

function inScope(ctx: Ctx, orderId: string): boolean {
  return !ctx.orderIds || ctx.orderIds.includes(orderId);
}

/**
 * For every product: its ledger = available + reserved + sold, reserved = units held by reservations,
 * sold = units committed less those refunds put back on sale (the restock ledger).
 */
async function checkStock(ctx: Ctx): Promise<void> {
  const { rows } = await ctx.db.inventory.query<{
    id: string;
    sku: string;
    available: number;
    reserved: number;
    sold: number;
    ledger: string;
    held: string;
    committed: string;
    restocked: string;
  }>(
    `SELECT p.id, p.sku, p.available, p.reserved, p.sold,
            COALESCE((SELECT SUM(a.delta) FROM stock_adjustments a WHERE a.product_id = p.id), 0) AS ledger,
            COALESCE((SELECT SUM(l.quantity) FROM reservation_lines l JOIN reservations r ON r.id = l.reservation_id WHERE l.product_id = p.id AND r.status = 'HELD'), 0) AS held,
            COALESCE((SELECT SUM(l.quantity) FROM reservation_lines l JOIN reservations r ON r.id = l.reservation_id WHERE l.product_id = p.id AND r.status = 'COMMITTED'), 0) AS committed,
            COALESCE((SELECT SUM(s.quantity) FROM restocks s WHERE s.product_id = p.id), 0) AS restocked
     FROM products p`,
  );
  for (const p of rows) {
    ctx.report.checked['stock-conserved'] += 1;
    const problems: string[] = [];
    const total = p.available + p.reserved + p.sold;
    if (total !== Number(p.ledger))
      problems.push(
        `its stock ledger says ${p.ledger} units, the buckets hold ${total} (available ${p.available} + reserved ${p.reserved} + sold ${p.sold})`,
      );
    if (p.reserved !== Number(p.held)) problems.push(`reserved ${p.reserved} ≠ ${p.held} held by reservations`);
    const sold = Number(p.committed) - Number(p.restocked);
    if (p.sold !== sold)
      problems.push(
        Number(p.restocked) > 0
          ? `sold ${p.sold} ≠ ${p.committed} committed by reservations − ${p.restocked} restocked by refunds`
          : `sold ${p.sold} ≠ ${p.committed} committed by reservations`,
      );
    if (problems.length > 0)
      violate(ctx, 'stock-conserved', p.id, `${p.sku}: ${problems.join('; ')}`, { productId: p.id });
  }
}

/** No reservation is live for an order that ended, or for no order at all; a completed order's reservation is committed. */
async function checkReservations(ctx: Ctx): Promise<void> {
  const { rows } = await ctx.db.inventory.query<{ order_id: string; status: string; created_at: Date }>(
    ctx.orderIds
      ? `SELECT order_id, status, created_at FROM reservations WHERE order_id = ANY($1::uuid[])`
      : `SELECT order_id, status, created_at FROM reservations`,
    ctx.orderIds ? [ctx.orderIds] : [],
  );
  const reservations = new Map(rows.map((r) => [r.order_id, r]));
  for (const r of rows) {
    ctx.report.checked['no-live-reservation'] += 1;
    const order = ctx.orders.get(r.order_id);
    if (!order) {
      if (r.status !== 'RELEASED' && r.created_at < ctx.cutoff)
        violate(ctx, 'no-live-reservation', r.order_id, `a ${r.status} reservation for an order that does not exist`, {
          orderId: r.order_id,
        });
      continue;
    }
    if (ENDED_UNPAID.includes(order.status) && r.status !== 'RELEASED') {
      violate(ctx, 'no-live-reservation', r.order_id, `a ${order.status} order still holds its stock (${r.status})`, {
        orderId: r.order_id,
      });
    }
    if (SOLD.includes(order.status) && r.status !== 'COMMITTED')
      violate(ctx, 'no-live-reservation', r.order_id, `a ${order.status} order's reservation is ${r.status}`, {
        orderId: r.order_id,
      });
  }
  for (const [orderId, order] of ctx.orders) {
    if (SOLD.includes(order.status) && !reservations.has(orderId)) {
      ctx.report.checked['no-live-reservation'] += 1;
      violate(ctx, 'no-live-reservation', orderId, `a ${order.status} order has no reservation`, { orderId });
    }
  }
}

/**
 * One succeeded payment per paid order, not given back by a compensation, with one succeeded
 * attempt; none for an order that ended unpaid or does not exist. (Refunds after the sale leave the
 * payment SUCCEEDED: refunds-consistent checks them.)
 */
async function checkPayments(ctx: Ctx): Promise<void> {
  const { rows } = await ctx.db.payments.query<{
    order_id: string;
    status: string;
    refunds: string;
    succeeded_attempts: string;
  }>(
    `SELECT p.order_id, p.status,
            (SELECT COUNT(*) FROM refunds f WHERE f.payment_id = p.id AND f.kind = 'COMPENSATION') AS refunds,
            (SELECT COUNT(*) FROM payment_attempts a WHERE a.payment_id = p.id AND a.outcome = 'SUCCEEDED') AS succeeded_attempts
     FROM payments p ${ctx.orderIds ? 'WHERE p.order_id = ANY($1::uuid[])' : ''}`,
    ctx.orderIds ? [ctx.orderIds] : [],
  );
  const payments = new Map(rows.map((r) => [r.order_id, r]));
  for (const payment of rows) {
    ctx.report.checked['one-payment'] += 1;
    const succeeded = Number(payment.succeeded_attempts);
    if (succeeded > 1)
      violate(ctx, 'one-payment', payment.order_id, `${succeeded} charges recorded as succeeded for one order`, {
        orderId: payment.order_id,
      });
    const order = ctx.orders.get(payment.order_id);
    const kept = payment.status === 'SUCCEEDED' && Number(payment.refunds) === 0;
    if (!order && kept)
      violate(ctx, 'one-payment', payment.order_id, 'money kept for an order that does not exist', {
        orderId: payment.order_id,
      });
    if (
      order &&
      ENDED_UNPAID.includes(order.status) &&
      payment.status !== 'CANCELED' &&
      payment.status !== 'REFUNDED'
    ) {
      violate(ctx, 'one-payment', payment.order_id, `a ${order.status} order's payment is left ${payment.status}`, {
        orderId: payment.order_id,
      });
    }
  }
  for (const [orderId, order] of ctx.orders) {
    if (!PAID.includes(order.status) || !inScope(ctx, orderId)) continue;
    ctx.report.checked['one-payment'] += 1;
    const payment = payments.get(orderId);
    if (payment?.status !== 'SUCCEEDED' || Number(payment.refunds) > 0) {
      violate(
        ctx,
        'one-payment',
        orderId,
        `a ${order.status} order's payment is ${payment?.status ?? 'missing'}${Number(payment?.refunds) > 0 ? ' (refunded)' : ''}`,
        { orderId },
      );
    }
  }
}

/** Every usage row equals its unreleased events; an order's unit of the `orders` quota counts exactly while the order can still be or was paid. */
async function checkQuota(ctx: Ctx): Promise<void> {
  const { rows: drift } = await ctx.db.quota.query<{
    user_id: string;
    resource: string;
    period: string;
    used: number;
    counted: string;
  }>(
    `SELECT u.user_id, u.resource, u.period, u.used,
            COALESCE((SELECT SUM(e.quantity) FROM usage_events e
                      WHERE e.user_id = u.user_id AND e.resource = u.resource AND e.period = u.period AND e.released_at IS NULL), 0) AS counted
     FROM "usage" u`,
  );
  for (const row of drift) {
    ctx.report.checked['quota-matches-orders'] += 1;
    if (row.used !== Number(row.counted)) {
      violate(
        ctx,
        'quota-matches-orders',
        `${row.user_id}:${row.resource}:${row.period}`,
        `${row.user_id} ${row.resource} ${row.period}: used ${row.used} ≠ ${row.counted} from its events`,
      );
    }
  }
  const { rows: events } = await ctx.db.quota.query<{
    user_id: string;
    idempotency_key: string;
    released: boolean;
    created_at: Date;
  }>(
    `SELECT user_id, idempotency_key, released_at IS NOT NULL AS released, created_at FROM usage_events WHERE resource = 'orders' AND idempotency_key LIKE 'order:%'`,
  );
  const counting = new Map<string, boolean>();
  for (const event of events) {
    const orderId = event.idempotency_key.slice('order:'.length);
    if (!inScope(ctx, orderId)) continue;
    counting.set(orderId, !event.released);
    const order = ctx.orders.get(orderId);
    ctx.report.checked['quota-matches-orders'] += 1;
    if (!order && !event.released && event.created_at < ctx.cutoff)
      violate(
        ctx,
        'quota-matches-orders',
        orderId,
        `${event.user_id}: an order that does not exist counts against the quota`,
        { orderId },
      );
    if (order && ENDED_UNPAID.includes(order.status) && !event.released)
      violate(ctx, 'quota-matches-orders', orderId, `a ${order.status} order still counts against the quota`, {
        orderId,
      });
  }
  for (const [orderId, order] of ctx.orders) {
    if (!SOLD.includes(order.status) || !inScope(ctx, orderId)) continue;
    ctx.report.checked['quota-matches-orders'] += 1;
    if (counting.get(orderId) !== true)
      violate(ctx, 'quota-matches-orders', orderId, `a ${order.status} order does not count against the quota`, {
        orderId,
      });
  }
}

/** Each PaymentIntent that succeeded at Stripe is the recorded payment of an order. */
async function checkPaymentIntents(ctx: Ctx): Promise<void> {
  if (!ctx.paymentIntents) {
    ctx.report.skipped['payment-intent-matched'] =
      'no source of succeeded PaymentIntents (stripe-mock keeps none; pass the recorded ones)';
    return;
  }
  const intents = await ctx.paymentIntents();
  const { rows } = await ctx.db.payments.query<{
    order_id: string;
    stripe_payment_intent_id: string | null;
    status: string;
  }>(
    `SELECT order_id, stripe_payment_intent_id, status FROM payments WHERE stripe_payment_intent_id = ANY($1) OR order_id = ANY($2::uuid[])`,
    [intents.flatMap((i) => (i.id ? [i.id] : [])), intents.flatMap((i) => (i.orderId ? [i.orderId] : []))],
  );
  const byIntent = new Map(rows.filter((r) => r.stripe_payment_intent_id).map((r) => [r.stripe_payment_intent_id!, r]));
  const byOrder = new Map(rows.map((r) => [r.order_id, r]));
  for (const intent of intents) {
    ctx.report.checked['payment-intent-matched'] += 1;
    const row = intent.id ? byIntent.get(intent.id) : intent.orderId ? byOrder.get(intent.orderId) : undefined;
    const name = intent.id ? `PaymentIntent ${intent.id}` : `the PaymentIntent confirmed for order ${intent.orderId}`;
    const subject = intent.id ?? `order:${intent.orderId}`;
    if (!row) {
      const amount = intent.amountCents === undefined ? '' : ` took ${intent.amountCents} cents and`;
      violate(
        ctx,
        'payment-intent-matched',
        subject,
        `${name}${amount} succeeded at Stripe; no payment records it`,
        intent.orderId ? { orderId: intent.orderId } : {},
      );
    } else if (row.status !== 'SUCCEEDED' && row.status !== 'REFUNDED') {
      violate(ctx, 'payment-intent-matched', subject, `${name} succeeded at Stripe, its payment says ${row.status}`, {
        orderId: row.order_id,
      });
    }
  }
}

/** Orders asked about at once: each is one describe call to Temporal. */
const WORKFLOW_LOOKUPS_AT_ONCE = 8;

/**
 * Every order that has not ended has a running checkout workflow to end it: one whose run was
 * terminated, timed out or lost to retention is stranded, its stock and quota held with nothing
 * left to give them back (`npm run ops -- repair <orderId>`). Orders younger than the grace are
 * skipped: their workflow may not be visible yet.
 */
async function checkOpenOrdersHaveWorkflows(ctx: Ctx): Promise<void> {
  const invariant = INVARIANTS.orderHasWorkflow;
  if (!ctx.checkoutRunning) {
    ctx.report.skipped[invariant] = 'no Temporal connection to ask which checkouts are running';
    return;
  }
  const { rows } = await ctx.db.orders.query<{ id: string; status: string }>(
    `SELECT id, status FROM orders
     WHERE status IN ('PENDING', 'AWAITING_PAYMENT', 'PAID', 'NEEDS_ATTENTION') AND updated_at < $1
     ${ctx.orderIds ? 'AND id = ANY($2::uuid[])' : ''}
     ORDER BY updated_at`,
    ctx.orderIds ? [ctx.cutoff, ctx.orderIds] : [ctx.cutoff],
  );
  const checkoutRunning = ctx.checkoutRunning;
  for (let start = 0; start < rows.length; start += WORKFLOW_LOOKUPS_AT_ONCE) {
    const batch = rows.slice(start, start + WORKFLOW_LOOKUPS_AT_ONCE);
    const running = await Promise.all(batch.map((order) => checkoutRunning(order.id)));
    batch.forEach((order, index) => {
      ctx.report.checked[invariant] += 1;
      if (!running[index])
        violate(
          ctx,
          invariant,
          order.id,
          `a ${order.status} order has no running checkout workflow (terminated, timed out or lost): npm run ops -- repair ${order.id}`,
          { orderId: order.id },
        );
    });
  }
}

/**
 * Refunds after the sale agree across payments, orders and inventory: per payment, the refunds that
 * did not fail add up to at most what it captured (and there are none of a payment not captured);
 * every SUCCEEDED refund is recorded on its order with its amount, and the order's refundedCents is
 * the sum of what is recorded, each recorded refund one that succeeded; the units put back on sale
 * for a refund are the units it asked to restock, and only a SUCCEEDED refund restocks. A refund
 * younger than the grace may still be on its way through its saga.
 */
async function checkRefunds(ctx: Ctx): Promise<void> {
  const invariant = INVARIANTS.refundsConsistent;
  const scoped = ctx.orderIds ? 'AND p.order_id = ANY($1::uuid[])' : '';
  const { rows: payments } = await ctx.db.payments.query<{
    order_id: string;
    status: string;
    amount_cents: number;
    refunded: string;
    refunds: string;
  }>(
    `SELECT p.order_id, p.status, p.amount_cents,
            COALESCE(SUM(f.amount_cents) FILTER (WHERE f.status <> 'FAILED'), 0) AS refunded,
            COUNT(f.id) FILTER (WHERE f.status <> 'FAILED') AS refunds
       FROM payments p LEFT JOIN refunds f ON f.payment_id = p.id AND f.kind = 'AFTER_SALE'
      WHERE true ${scoped}
      GROUP BY p.id`,
    ctx.orderIds ? [ctx.orderIds] : [],
  );
  for (const payment of payments) {
    ctx.report.checked[invariant] += 1;
    const refunded = Number(payment.refunded);
    if (refunded > payment.amount_cents)
      violate(
        ctx,
        invariant,
        `payment:${payment.order_id}`,
        `refunds of ${refunded} cents exceed the ${payment.amount_cents} cents captured`,
        { orderId: payment.order_id },
      );
    if (Number(payment.refunds) > 0 && payment.status !== 'SUCCEEDED')
      violate(ctx, invariant, `payment:${payment.order_id}`, `refunds of a payment that is ${payment.status}`, {
        orderId: payment.order_id,
      });
  }

  const { rows: refunds } = await ctx.db.payments.query<{
    id: string;
    order_id: string;
    status: string;
    amount_cents: number;
    lines: { productId: string; quantity: number }[];
    restock: boolean;
    updated_at: Date;
  }>(
    `SELECT f.id, f.order_id, f.status::text AS status, f.amount_cents, f.lines, f.restock, f.updated_at
       FROM refunds f WHERE f.kind = 'AFTER_SALE' ${ctx.orderIds ? 'AND f.order_id = ANY($1::uuid[])' : ''}`,
    ctx.orderIds ? [ctx.orderIds] : [],
  );
  const { rows: recorded } = await ctx.db.orders.query<{ refund_id: string; order_id: string; amount_cents: number }>(
    `SELECT refund_id, order_id, amount_cents FROM order_refunds ${ctx.orderIds ? 'WHERE order_id = ANY($1::uuid[])' : ''}`,
    ctx.orderIds ? [ctx.orderIds] : [],
  );
  const { rows: restocks } = await ctx.db.inventory.query<{ refund_id: string; product_id: string; quantity: number }>(
    `SELECT refund_id, product_id, quantity FROM restocks ${ctx.orderIds ? 'WHERE order_id = ANY($1::uuid[])' : ''}`,
    ctx.orderIds ? [ctx.orderIds] : [],
  );
  const onOrders = new Map(recorded.map((r) => [r.refund_id, r]));
  const byId = new Map(refunds.map((r) => [r.id, r]));
  const restocked = new Map<string, Map<string, number>>();
  for (const r of restocks)
    restocked.set(r.refund_id, (restocked.get(r.refund_id) ?? new Map()).set(r.product_id, r.quantity));
  for (const refund of refunds) {
    ctx.report.checked[invariant] += 1;
    const settled = refund.updated_at < ctx.cutoff;
    const onOrder = onOrders.get(refund.id);
    const units = restocked.get(refund.id);
    const name = `refund ${refund.id}`;
    if (refund.status === 'SUCCEEDED') {
      if (!onOrder && settled)
        violate(ctx, invariant, refund.id, `${name} succeeded at Stripe and is not recorded on its order`, {
          orderId: refund.order_id,
        });
      if (onOrder && onOrder.amount_cents !== refund.amount_cents)
        violate(
          ctx,
          invariant,
          refund.id,
          `${name} of ${refund.amount_cents} cents is recorded on its order as ${onOrder.amount_cents}`,
          {
            orderId: refund.order_id,
          },
        );
      const wanted = refund.restock ? refund.lines : [];
      const matches =
        wanted.length === (units?.size ?? 0) && wanted.every((line) => units?.get(line.productId) === line.quantity);
      if (!matches && (units || settled))
        violate(
          ctx,
          invariant,
          `restock:${refund.id}`,
          `${name} restocked ${units ? [...units].map(([p, q]) => `${q} × ${p}`).join(', ') : 'nothing'}; it asked for ${wanted.map((l) => `${l.quantity} × ${l.productId}`).join(', ') || 'nothing'}`,
          { orderId: refund.order_id },
        );
    } else {
      if (onOrder)
        violate(ctx, invariant, refund.id, `${name} is ${refund.status} and recorded on its order`, {
          orderId: refund.order_id,
        });
      if (units)
        violate(ctx, invariant, `restock:${refund.id}`, `${name} is ${refund.status} and put units back on sale`, {
          orderId: refund.order_id,
        });
    }
  }
  for (const entry of recorded)
    if (!byId.has(entry.refund_id))
      violate(
        ctx,
        invariant,
        entry.refund_id,
        `order ${entry.order_id} records refund ${entry.refund_id}, which the payments service does not know`,
        {
          orderId: entry.order_id,
        },
      );
  for (const refundId of restocked.keys())
    if (!byId.has(refundId))
      violate(
        ctx,
        invariant,
        `restock:${refundId}`,
        `units were put back on sale for refund ${refundId}, which the payments service does not know`,
      );

  if (ctx.stripeRefunds) {
    const atStripe = await ctx.stripeRefunds();
    const { rows: known } = await ctx.db.payments.query<{ stripe_refund_id: string }>(
      `SELECT stripe_refund_id FROM refunds WHERE stripe_refund_id = ANY($1)`,
      [atStripe.map((r) => r.id)],
    );
    const recordedAtStripe = new Set(known.map((r) => r.stripe_refund_id));
    for (const refund of atStripe) {
      ctx.report.checked[invariant] += 1;
      if (!recordedAtStripe.has(refund.id) && refund.created < ctx.cutoff)
        violate(
          ctx,
          invariant,
          `stripe-refund:${refund.id}`,
          `Stripe refunded ${refund.amountCents} cents (${refund.id}); no refund the store recorded is it`,
          refund.orderId && isUuid(refund.orderId) ? { orderId: refund.orderId } : {},
        );
    }
  }

  const { rows: orders } = await ctx.db.orders.query<{ id: string; refunded_cents: number; recorded: string }>(
    `SELECT o.id, o.refunded_cents, COALESCE((SELECT SUM(r.amount_cents) FROM order_refunds r WHERE r.order_id = o.id), 0) AS recorded
       FROM orders o WHERE (o.refunded_cents > 0 OR EXISTS (SELECT 1 FROM order_refunds r WHERE r.order_id = o.id))
       ${ctx.orderIds ? 'AND o.id = ANY($1::uuid[])' : ''}`,
    ctx.orderIds ? [ctx.orderIds] : [],
  );
  for (const order of orders) {
    ctx.report.checked[invariant] += 1;
    if (order.refunded_cents !== Number(order.recorded))
      violate(
        ctx,
        invariant,
        `order:${order.id}`,
        `refundedCents ${order.refunded_cents} ≠ ${order.recorded} from its recorded refunds`,
        {
          orderId: order.id,
        },
      );
  }
}
