/**
 * Orders that are not moving (`npm run ops -- stuck`): a checkout whose activity Temporal keeps
 * retrying (its attempts and last failure, as `show` reads them), an order still open past its
 * deadline, and a stranded order (not ended, no running checkout: the reconciler's
 * order-has-workflow invariant, asked the same way). Read-only: what to do next is `show`, `retry`,
 * `resolve` or `repair`.
 */
import type { Client } from '@temporalio/client';
import { tsToDate } from '@temporalio/common/lib/time';
import type { Queryable, Violation } from '../reconciler/invariants';
import { orderWorkflowId } from '../workflows/contract';

export type StuckReason = 'retrying' | 'past-expiry' | 'stranded';

export interface StuckOrder {
  orderId: string;
  reason: StuckReason;
  /** What an operator reads: the activity, its attempts and last failure; the deadline; the stranded status. */
  detail: string;
  /** The next command to run. */
  next: string;
  activity?: { name: string; attempt: number; lastFailure?: string; retryingSince?: string };
  expiresAt?: string;
}

export interface StuckOptions {
  /** An order past its deadline for longer than this, or stranded for longer than this, is stuck. */
  olderThanMs: number;
  /** An activity on this attempt or later is stuck. */
  attempts: number;
  /** Running checkouts looked at, at most (each is one describe call). */
  limit: number;
}

export interface StuckDeps {
  client: Client;
  /** The orders database, read-only. */
  orders: Queryable;
  /** The stranded orders, as the reconciler finds them (reconcile's order-has-workflow violations). */
  strandedOrders: (graceSeconds: number) => Promise<Violation[]>;
}

/** Checkouts described at once. */
const DESCRIBES_AT_ONCE = 8;
const RUNNING_CHECKOUTS = `WorkflowType = 'checkoutWorkflow' AND ExecutionStatus = 'Running'`;

export async function findStuckOrders(deps: StuckDeps, options: StuckOptions): Promise<StuckOrder[]> {
  const [retrying, pastExpiry, stranded] = await Promise.all([
    retryingActivities(deps.client, options),
    openPastExpiry(deps, options),
    deps.strandedOrders(Math.floor(options.olderThanMs / 1000)),
  ]);
  return [
    ...retrying,
    ...pastExpiry,
    ...stranded.map((violation): StuckOrder => ({
      orderId: violation.orderId!,
      reason: 'stranded',
      detail: violation.detail.replace(/: npm run ops -- repair .*$/, ''),
      next: `npm run ops -- repair ${violation.orderId}`,
    })),
  ];
}

/** Running checkouts with an activity Temporal has tried `attempts` times or more. */
async function retryingActivities(client: Client, options: StuckOptions): Promise<StuckOrder[]> {
  const workflowIds: string[] = [];
  for await (const info of client.workflow.list({ query: RUNNING_CHECKOUTS, pageSize: Math.min(options.limit, 100) })) {
    workflowIds.push(info.workflowId);
    if (workflowIds.length >= options.limit) break;
  }
  const stuck: StuckOrder[] = [];
  for (let start = 0; start < workflowIds.length; start += DESCRIBES_AT_ONCE) {
    const described = await Promise.all(
      workflowIds.slice(start, start + DESCRIBES_AT_ONCE).map(async (workflowId) => ({
        workflowId,
        // A checkout that closed since it was listed has nothing pending.
        pending: await client.workflow
          .getHandle(workflowId)
          .describe()
          .then((d) => d.raw.pendingActivities ?? [])
          .catch(() => []),
      })),
    );
    for (const { workflowId, pending } of described) {
      const orderId = workflowId.replace(/^order-/, '');
      for (const activity of pending) {
        const attempt = activity.attempt ?? 0;
        if (attempt < options.attempts) continue;
        const name = activity.activityType?.name ?? '?';
        const lastFailure = activity.lastFailure?.message ?? undefined;
        const retryingSince = activity.scheduledTime ? tsToDate(activity.scheduledTime).toISOString() : undefined;
        stuck.push({
          orderId,
          reason: 'retrying',
          detail: `${name} on attempt ${attempt}${lastFailure ? `, last failure: ${lastFailure}` : ''}`,
          next: `npm run ops -- show ${orderId}`,
          activity: {
            name,
            attempt,
            ...(lastFailure ? { lastFailure } : {}),
            ...(retryingSince ? { retryingSince } : {}),
          },
        });
      }
    }
  }
  return stuck;
}

/** Orders still waiting for payment well past their deadline while their checkout runs (stranded ones are reported as such). */
async function openPastExpiry(deps: StuckDeps, options: StuckOptions): Promise<StuckOrder[]> {
  const { rows } = await deps.orders.query<{ id: string; expires_at: Date }>(
    `SELECT id, expires_at FROM orders WHERE status = 'AWAITING_PAYMENT' AND expires_at < $1 ORDER BY expires_at LIMIT $2`,
    [new Date(Date.now() - options.olderThanMs), options.limit],
  );
  const running = await Promise.all(
    rows.map((row) =>
      deps.client.workflow
        .getHandle(orderWorkflowId(row.id))
        .describe()
        .then((d) => d.status.name === 'RUNNING')
        .catch(() => false),
    ),
  );
  return rows
    .filter((_, index) => running[index])
    .map((row) => ({
      orderId: row.id,
      reason: 'past-expiry' as const,
      detail: `still AWAITING_PAYMENT, its deadline ${row.expires_at.toISOString()} passed`,
      next: `npm run ops -- show ${row.id}`,
      expiresAt: row.expires_at.toISOString(),
    }));
}

export function formatStuck(orders: readonly StuckOrder[], options: StuckOptions): string {
  const scope = `past their deadline or stranded for over ${Math.round(options.olderThanMs / 1000)} s, or an activity on attempt ${options.attempts}+`;
  if (orders.length === 0) return `no stuck orders (${scope})`;
  const rows = orders.map((order) => [order.orderId, order.reason, order.detail, order.next]);
  const widths = [0, 1].map((column) => Math.max(...rows.map((row) => row[column]!.length), 11));
  return [
    ...rows.map((row) => `${row[0]!.padEnd(widths[0]!)}  ${row[1]!.padEnd(widths[1]!)}  ${row[2]}  (next: ${row[3]})`),
    `${orders.length} stuck order(s): ${scope}`,
  ].join('\n');
}
