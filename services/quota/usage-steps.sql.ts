/**
 * The checkout's writes to the quota database as plain SQL on the service's pool (lib/db/service-db.ts):
 * the saga consumes an `orders` unit for every order and gives it back when the order fails, so
 * these run as few statements as their decisions allow, rather than Prisma's interactive transactions.
 *
 * Recording is two statements in one transaction (COUNT_USE, then RECORD_EVENT): the usage row's lock
 * must be held before the statement that decides the idempotency key and the thresholds runs, so
 * that statement's snapshot sees every use of the row that committed before (READ COMMITTED takes
 * a statement's snapshot when it starts, not when it gets a lock). Lock order, here and in
 * RELEASE_EVENT: the usage row, then the event, so the two cannot deadlock.
 */

/**
 * Takes the usage row's lock and counts the use on it, answering the user's plan, its limit of the
 * resource and the units used with this one. Nothing is written when the plan has no such resource
 * (no `limit_per_period` in the answer); on first use the user gets $4, the default plan.
 * $1 user, $2 resource, $3 period, $4 default plan, $5 quantity.
 *
 * The upsert's DO UPDATE locks the row and reads it as the last committed use left it, so concurrent
 * uses queue on it. The count is kept only if the caller commits: a refused use or a replayed key is
 * rolled back. The plan is read on the snapshot: a subscription first made by a concurrent call is
 * the default plan too.
 */
export const COUNT_USE = `
WITH subscribed AS (
  SELECT plan_id FROM subscriptions WHERE user_id = $1
), plan AS (
  SELECT coalesce((SELECT plan_id FROM subscribed), $4) AS plan_id
), quota AS (
  SELECT pl.limit_per_period, pl.enforcement::text AS enforcement
  FROM plan_limits pl JOIN plan ON pl.plan_id = plan.plan_id
  WHERE pl.resource = $2
), first_use AS (
  INSERT INTO subscriptions (user_id, plan_id)
  SELECT $1, $4 WHERE NOT EXISTS (SELECT 1 FROM subscribed) AND EXISTS (SELECT 1 FROM quota)
  ON CONFLICT (user_id) DO NOTHING
), counted AS (
  INSERT INTO "usage" (user_id, resource, period, used)
  SELECT $1, $2, $3, $5 FROM quota
  ON CONFLICT (user_id, resource, period) DO UPDATE SET used = "usage".used + EXCLUDED.used
  RETURNING used
)
SELECT plan.plan_id, quota.limit_per_period, quota.enforcement, (SELECT used FROM counted) AS used
FROM plan LEFT JOIN quota ON true`;

export interface CountUseRow {
  plan_id: string;
  limit_per_period: number | null;
  enforcement: 'SOFT' | 'HARD' | null;
  used: number | null;
}

/**
 * Records the event of a key with its outcome, and the thresholds it crossed first in the period,
 * unless the key was recorded before: then it answers that event. Run under COUNT_USE's lock.
 * $1 user, $2 key, $3 resource, $4 period, $5 quantity, $6 when, $7 whether the plan allows the use
 * (a refused use writes no event), $8 the thresholds the units used reach, $9 the outcome without
 * its crossings. An event that crossed nothing is notified as it is recorded: a replay never signals.
 *
 * Why the key counts once: a concurrent first call of the same key makes the INSERT wait for it and
 * do nothing; `earlier` sees that call's event, because it committed before this transaction got the
 * usage row's lock. Why a threshold is reported once a period: only holders of that lock insert
 * crossings, so `fresh` (reached and not yet crossed) is exact.
 */
export const RECORD_EVENT = `
WITH fresh AS (
  SELECT t AS threshold FROM unnest($8::int[]) AS t
  WHERE NOT EXISTS (
    SELECT 1 FROM threshold_crossings c
    WHERE c.user_id = $1 AND c.resource = $3 AND c.period = $4 AND c.threshold = t)
), outcome AS (
  SELECT $9::jsonb || jsonb_build_object('crossed', coalesce(jsonb_agg(threshold ORDER BY threshold), '[]'::jsonb))
    AS outcome,
    count(*) > 0 AS to_notify
  FROM fresh
), recorded AS (
  INSERT INTO usage_events (user_id, idempotency_key, resource, period, quantity, created_at, outcome, notified_at)
  SELECT $1, $2, $3, $4, $5, $6, outcome.outcome, CASE WHEN outcome.to_notify THEN NULL ELSE $6::timestamptz END
  FROM outcome WHERE $7::boolean
  ON CONFLICT (user_id, idempotency_key) DO NOTHING
  RETURNING outcome
), crossings AS (
  INSERT INTO threshold_crossings (user_id, resource, period, threshold, crossed_at)
  SELECT $1, $3, $4, threshold, $6 FROM fresh WHERE EXISTS (SELECT 1 FROM recorded)
)
SELECT (SELECT outcome FROM recorded) AS recorded,
  earlier.resource, earlier.period, earlier.outcome, earlier.released_at, earlier.notified_at
FROM (SELECT 1) AS one
LEFT JOIN usage_events earlier ON earlier.user_id = $1 AND earlier.idempotency_key = $2`;

export interface RecordEventRow {
  /** The outcome stored with the event this call recorded; null when it recorded none. */
  recorded: unknown;
  /** The key's earlier event, if any (null columns otherwise). */
  resource: string | null;
  period: string | null;
  outcome: unknown;
  released_at: Date | null;
  notified_at: Date | null;
}

/**
 * Gives an event's units back, once. $1 user, $2 key. Answers nothing when there is no such event or
 * it was released already.
 *
 * Why twice gives back once: `marked` sets released_at only where it is still null, and a second
 * call that waited (on the usage row, then on the event row) re-reads the event as the first left
 * it and finds it released. The usage row is locked (`counter`) before the event, as COUNT_USE
 * locks it before RECORD_EVENT writes the event: the lock is taken when `marked` first evaluates its
 * condition, which reads `counter`. The units left are computed from the locked row, which answers
 * the last committed use (services/inventory/stock-steps.sql.ts says why not from the UPDATE's own read).
 */
export const RELEASE_EVENT = `
WITH event AS (
  SELECT resource, period FROM usage_events
  WHERE user_id = $1 AND idempotency_key = $2 AND released_at IS NULL
), counter AS (
  SELECT u.used FROM "usage" u JOIN event e ON u.resource = e.resource AND u.period = e.period
  WHERE u.user_id = $1
  FOR UPDATE OF u
), marked AS (
  UPDATE usage_events SET released_at = now()
  WHERE user_id = $1 AND idempotency_key = $2 AND released_at IS NULL
    AND (SELECT count(*) FROM counter) >= 0
  RETURNING resource, period, quantity
), given_back AS (
  UPDATE "usage" u SET used = greatest(c.used - m.quantity, 0)
  FROM marked m, counter c
  WHERE u.user_id = $1 AND u.resource = m.resource AND u.period = m.period
  RETURNING u.used
)
SELECT m.resource, m.period, m.quantity, coalesce((SELECT used FROM given_back), 0) AS used FROM marked m`;

export interface ReleaseEventRow {
  resource: string;
  period: string;
  quantity: number;
  used: number;
}
