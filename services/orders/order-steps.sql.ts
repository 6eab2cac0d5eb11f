/**
 * The two writes a checkout makes to the orders database, each one statement (one round trip): the
 * saga runs them for every order, so they are plain SQL on the service's pool rather than Prisma's
 * nested writes and interactive transactions (lib/db/service-db.ts). Both answer the order's summary:
 * what a run needs to go on or to adopt an order an earlier run recorded.
 */

/** The summary's columns; `paid_before` is whether the order was ever PAID (a paid order only goes forward). */
const SUMMARY = `id, status::text AS status, total_cents, expires_at, failure_code, failure_reason`;
const EVER_PAID = (alias: string) =>
  `EXISTS (SELECT 1 FROM order_status_changes h WHERE h.order_id = ${alias}.id AND h.to_status = 'PAID')`;

/**
 * Records the order in PENDING with its lines and its first status change, unless its id is taken:
 * then it answers the order recorded under it. The second SELECT runs on the statement's snapshot,
 * so it answers nothing when a concurrent first insert of the same id committed meanwhile (the
 * caller runs the statement again).
 * $1 id, $2 customer, $3 currency, $4 total, $5 idempotency key, $6 request hash, $7–$11 the lines' columns.
 */
export const RECORD_ORDER = `
WITH placed AS (
  INSERT INTO orders (id, customer_id, currency, total_cents, idempotency_key, request_hash, updated_at)
  VALUES ($1, $2, $3, $4, $5, $6, now())
  ON CONFLICT (id) DO NOTHING
  RETURNING ${SUMMARY}
), placed_lines AS (
  INSERT INTO order_lines (order_id, product_id, sku, name, quantity, unit_price_cents)
  SELECT placed.id, line.product_id, line.sku, line.name, line.quantity, line.unit_price_cents
  FROM placed, unnest($7::uuid[], $8::text[], $9::text[], $10::int[], $11::int[])
    AS line(product_id, sku, name, quantity, unit_price_cents)
), first_status AS (
  INSERT INTO order_status_changes (order_id, to_status) SELECT id, 'PENDING' FROM placed
)
SELECT *, false AS paid_before FROM placed
UNION ALL
SELECT ${SUMMARY}, ${EVER_PAID('o')} AS paid_before FROM orders o WHERE o.id = $1`;

/**
 * Moves the order to $2 if it is in one of $6 (the statuses that may move to $2), with its status
 * change, and answers it as it then is with `moved`. The row lock makes concurrent moves of one
 * order queue, and the lock reads the row as the last of them left it, so nothing is overwritten
 * and no retry is needed; the columns kept are taken from that locked row, not from the UPDATE's
 * own read of it (services/inventory/stock-steps.sql.ts says why). An order not moved is answered as found, for the caller to decide
 * (already there, gone past, or refused); no row means no such order.
 * $1 id, $2 status, $3 expiresAt, $4 failure code, $5 reason, $6 the statuses it may move from.
 */
export const MOVE_ORDER = `
WITH found AS (
  SELECT ${SUMMARY} FROM orders WHERE id = $1 FOR UPDATE
), moved AS (
  UPDATE orders o SET
    status = $2::order_status,
    expires_at = COALESCE($3::timestamptz, found.expires_at),
    failure_code = CASE WHEN $4::text IS NULL THEN found.failure_code ELSE $4 END,
    failure_reason = CASE WHEN $4::text IS NULL THEN found.failure_reason ELSE $5 END,
    updated_at = now()
  FROM found
  WHERE o.id = found.id AND found.status = ANY($6::text[])
  RETURNING o.id, o.status::text AS status, o.total_cents, o.expires_at, o.failure_code, o.failure_reason,
    found.status AS from_status
), logged AS (
  INSERT INTO order_status_changes (order_id, from_status, to_status, reason)
  SELECT id, from_status::order_status, status::order_status, $5 FROM moved
)
SELECT id, status, total_cents, expires_at, failure_code, failure_reason, true AS moved,
  status = 'PAID' OR ${EVER_PAID('moved')} AS paid_before
FROM moved
UNION ALL
SELECT id, status, total_cents, expires_at, failure_code, failure_reason, false AS moved,
  status IN ('PAID', 'COMPLETED', 'PARTIALLY_REFUNDED', 'REFUNDED') OR ${EVER_PAID('found')} AS paid_before
FROM found WHERE NOT EXISTS (SELECT 1 FROM moved)`;
