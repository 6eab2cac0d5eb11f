/**
 * The checkout's writes to the inventory database, each one statement (one round trip): the saga
 * reserves and then commits or releases stock for every order, so they are plain SQL on the
 * service's pool rather than Prisma's interactive transactions (lib/db/service-db.ts). Each decides
 * its race inside the statement, with row locks taken in product-id order.
 */

/**
 * Reserves an order's lines, all or nothing, unless the order holds a reservation already.
 * $1 order id, $2 customer (written on the reservation), $3 product ids (merged, in id order),
 * $4 their quantities, $5 the customer whose unpaid holding is counted (null: no limits apply).
 *
 * Why no order can oversell: `locked` takes each product's row lock, in product-id order so two
 * orders cannot deadlock, and FOR UPDATE answers the row as the last committed writer left it (an
 * order that waited for the lock sees the units its predecessor took). `fits` decides on those
 * values, and the reservation, its lines and the units taken are written only when every line
 * fits, so a refused order writes nothing. The new units are computed from `locked`'s values, not
 * from the UPDATE's own read of the row: a data-modifying CTE that joins another one may write from
 * its statement's snapshot of the row (measured: a release that waited for the order's commit
 * wrote `sold` as if the commit had not happened), whereas the lock answers the committed row.
 * The CHECK (available >= 0) is the last line of defence.
 *
 * Why a retry reserves once: `existing` answers a reservation already made (no product is locked
 * then); a concurrent first call of the same order makes the INSERT wait for it and do nothing,
 * and nothing else is written. Then `created` is false and the caller reads the winner.
 *
 * The customer's holding (`held`, their HELD reservations before this one) is read on the
 * statement's snapshot: the caller takes the customer's advisory lock in an earlier statement of
 * the same transaction, so the snapshot includes every order of theirs that reserved before.
 */
export const RESERVE_ORDER = `
WITH existing AS (
  SELECT id, status::text AS status FROM reservations WHERE order_id = $1
), wanted AS (
  SELECT product_id, quantity FROM unnest($3::uuid[], $4::int[]) AS w(product_id, quantity)
), locked AS (
  SELECT p.id, p.sku, p.available, p.reserved FROM products p
  WHERE p.id = ANY($3::uuid[]) AND NOT EXISTS (SELECT 1 FROM existing)
  ORDER BY p.id
  FOR UPDATE
), fits AS (
  SELECT count(*) = cardinality($3::uuid[]) AND coalesce(bool_and(l.available >= w.quantity), true) AS ok
  FROM wanted w JOIN locked l ON l.id = w.product_id
), created AS (
  INSERT INTO reservations (id, order_id, customer_id, updated_at)
  SELECT gen_random_uuid(), $1, $2, now() WHERE NOT EXISTS (SELECT 1 FROM existing) AND (SELECT ok FROM fits)
  ON CONFLICT (order_id) DO NOTHING
  RETURNING id
), taken AS (
  UPDATE products p
  SET available = l.available - w.quantity, reserved = l.reserved + w.quantity, updated_at = now()
  FROM wanted w JOIN locked l ON l.id = w.product_id, created
  WHERE p.id = w.product_id
), recorded AS (
  INSERT INTO reservation_lines (reservation_id, product_id, quantity)
  SELECT created.id, w.product_id, w.quantity FROM created, wanted w
), held AS (
  SELECT id FROM reservations WHERE customer_id = $5 AND status = 'HELD'
)
SELECT
  (SELECT status FROM existing) AS existing_status,
  (SELECT json_agg(json_build_object('productId', product_id, 'quantity', quantity) ORDER BY product_id)
     FROM reservation_lines WHERE reservation_id = (SELECT id FROM existing)) AS existing_lines,
  EXISTS (SELECT 1 FROM created) AS created,
  (SELECT count(*) FROM held)::int AS held_orders,
  w.product_id, w.quantity, l.sku, l.available, l.reserved,
  (SELECT coalesce(sum(hl.quantity), 0) FROM reservation_lines hl JOIN held ON hl.reservation_id = held.id
     WHERE hl.product_id = w.product_id)::int AS held_units
FROM (SELECT 1) AS one
LEFT JOIN (wanted w LEFT JOIN locked l ON l.id = w.product_id) ON true
ORDER BY w.product_id`;

/** One row of RESERVE_ORDER: the order's outcome, repeated on each of its lines. */
export interface ReserveOrderRow {
  existing_status: string | null;
  existing_lines: Array<{ productId: string; quantity: number }> | null;
  created: boolean;
  held_orders: number;
  /** Null on the one row of an order without lines. */
  product_id: string | null;
  quantity: number | null;
  /** Null when there is no such product, or when the order had a reservation already. */
  sku: string | null;
  available: number | null;
  reserved: number | null;
  held_units: number;
}

/**
 * Moves an order's reservation from one of $2 to $3 and its units between the stock buckets:
 * HELD → COMMITTED takes them from `reserved` to `sold`; HELD → RELEASED gives them back from
 * `reserved`, COMMITTED → RELEASED from `sold`. $1 order id.
 *
 * Why two concurrent moves move the units once: `found` locks the reservation row, and FOR UPDATE
 * answers its status as the first mover committed it, so the second finds it moved already and
 * writes nothing. The products are then locked in id order (`locked`), as a reservation locks them,
 * and their new units computed from the locked rows (RESERVE_ORDER says why). Answers the status found (no row: no reservation), whether it moved, and
 * the reservation's lines.
 */
export const MOVE_RESERVATION = `
WITH found AS (
  SELECT id, status FROM reservations WHERE order_id = $1 FOR UPDATE
), moved AS (
  UPDATE reservations r SET status = $3::reservation_status, updated_at = now()
  FROM found
  WHERE r.id = found.id AND found.status = ANY($2::reservation_status[])
  RETURNING found.status AS from_status
), lines AS (
  SELECT l.product_id, l.quantity FROM reservation_lines l JOIN found ON l.reservation_id = found.id
), locked AS (
  SELECT p.id, p.available, p.reserved, p.sold FROM products p JOIN lines l ON l.product_id = p.id
  WHERE EXISTS (SELECT 1 FROM moved)
  ORDER BY p.id
  FOR UPDATE OF p
), shifted AS (
  UPDATE products p SET
    available = k.available + CASE WHEN $3::text = 'RELEASED' THEN l.quantity ELSE 0 END,
    reserved = k.reserved - CASE WHEN m.from_status = 'HELD' THEN l.quantity ELSE 0 END,
    sold = k.sold + CASE WHEN $3::text = 'COMMITTED' THEN l.quantity
                         WHEN m.from_status = 'COMMITTED' THEN -l.quantity ELSE 0 END,
    updated_at = now()
  FROM locked k JOIN lines l ON l.product_id = k.id, moved m
  WHERE p.id = k.id
)
SELECT found.status::text AS found_status, EXISTS (SELECT 1 FROM moved) AS moved, l.product_id, l.quantity
FROM found LEFT JOIN lines l ON true
ORDER BY l.product_id`;

/** One row of MOVE_RESERVATION per line of the reservation (one with null line columns when it has none). */
export interface MoveReservationRow {
  found_status: ReservationStatusName;
  moved: boolean;
  product_id: string | null;
  quantity: number | null;
}

type ReservationStatusName = 'HELD' | 'COMMITTED' | 'RELEASED';
