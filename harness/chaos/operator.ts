/**
 * What an operator does to a checkout with Temporal's own tools, as the chaos run does it: reset
 * its workflow to one of its workflow tasks (Temporal's reset API, as `temporal workflow reset`
 * calls it), terminate it, read what the reconciler says of the order it strands (the invariants
 * `npm run ops -- reconcile` checks), and repair it (reconciler/repair.ts, what `npm run ops --
 * repair` runs). Each reset, termination and repair is counted for the report.
 */
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { randomUUID } from 'node:crypto';
import { Pool } from 'pg';
import type { ServiceName } from '../../lib/service-names';
import type { Services } from '../../services';
import { checkInvariants, INVARIANTS } from '../../reconciler/invariants';
import { repairOrder, type RepairOutcome } from '../../reconciler/repair';
import { checkoutRunning, isUnavailable } from '../../temporal/checkout-client';
import { orderWorkflowId } from '../../workflows/contract';
import { delay } from './sagas';

const { EventType, ResetReapplyType } = temporal.api.enums.v1;

/** Which of the run's completed workflow tasks a reset goes back to. */
export type ResetPoint = 'first' | 'middle' | 'last';
export const RESET_POINTS: readonly ResetPoint[] = ['first', 'middle', 'last'];

export interface ResetDone {
  point: ResetPoint;
  /** The WorkflowTaskCompleted event reset to, and how many the run had completed. */
  eventId: number;
  workflowTasks: number;
  /** What that workflow task had decided (its commands' events): what the new run decides again. */
  decided: string[];
  runId: string;
}

/** The operator's calls so far, for the report. */
export interface OperatorTally {
  resets: number;
  terminations: number;
  repairs: number;
}

/** An event as `ActivityTaskScheduled(chargePayment)`, `TimerStarted`, `WorkflowExecutionUpdateAccepted`... */
function describeEvent(event: temporal.api.history.v1.IHistoryEvent): string {
  const type = (EventType[event.eventType ?? 0] ?? '?')
    .replace(/^EVENT_TYPE_/, '')
    .toLowerCase()
    .replace(/(^|_)([a-z])/g, (_, __, c: string) => c.toUpperCase());
  const activity = event.activityTaskScheduledEventAttributes?.activityType?.name;
  return activity ? `${type}(${activity})` : type;
}

/** Retries a call Temporal did not answer (a server restarting); every call here is safe to send again. */
async function answered<T>(what: string, call: () => Promise<T>, deadline: number): Promise<T> {
  for (;;) {
    try {
      return await call();
    } catch (error) {
      if (!isUnavailable(error) || Date.now() > deadline) throw new Error(`${what}: ${(error as Error).message}`);
      await delay(300);
    }
  }
}

const RECONCILED = ['inventory', 'orders', 'payments', 'quota'] as const;

export class Operator {
  readonly tally: OperatorTally = { resets: 0, terminations: 0, repairs: 0 };
  /** The reconciler's read-only view of the databases (direct, never through the proxies the run cuts). */
  private readonly pools: Record<(typeof RECONCILED)[number], Pool>;

  constructor(
    private readonly client: Client,
    private readonly services: Services,
    urls: Record<ServiceName, string>,
    /** The time-to-live a recovery run gives an order that had not started waiting (as ORDER_TTL_SECONDS does for ops repair). */
    private readonly orderTtlSeconds: number,
  ) {
    this.pools = Object.fromEntries(
      RECONCILED.map((service) => [service, new Pool({ connectionString: urls[service], max: 2 })]),
    ) as Operator['pools'];
  }

  async close(): Promise<void> {
    await Promise.all(Object.values(this.pools).map((pool) => pool.end()));
  }

  /**
   * Resets the order's checkout to one of its completed workflow tasks: the first, the last, or the
   * one in the middle. Through the API rather than the CLI: the middle task needs the history read
   * anyway, and the request id makes a retry after a lost answer the same reset instead of a second one.
   * The reapply setting is the CLI's default (every signal and update after the point is sent again).
   */
  async reset(orderId: string, point: ResetPoint, deadline: number): Promise<ResetDone> {
    const workflowId = orderWorkflowId(orderId);
    const { runId } = await answered('describe', () => this.client.workflow.getHandle(workflowId).describe(), deadline);
    const history = await answered(
      'history',
      () => this.client.workflow.getHandle(workflowId, runId).fetchHistory(),
      deadline,
    );
    const completed = (history.events ?? []).filter(
      (event) => event.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED && event.eventId,
    );
    if (completed.length === 0) throw new Error(`order ${orderId}: no completed workflow task to reset to`);
    const index = point === 'first' ? 0 : point === 'last' ? completed.length - 1 : Math.floor(completed.length / 2);
    const eventId = completed[index]!.eventId!;
    const events = history.events ?? [];
    const after = events.slice(events.indexOf(completed[index]!) + 1);
    const next = after.findIndex((event) => event.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED);
    const decided = (next < 0 ? after : after.slice(0, next)).map(describeEvent);
    const requestId = randomUUID();
    const reset = await answered(
      'reset',
      () =>
        this.client.workflowService.resetWorkflowExecution({
          namespace: this.client.options.namespace,
          workflowExecution: { workflowId, runId },
          reason: `chaos: reset to the ${point} workflow task`,
          workflowTaskFinishEventId: eventId,
          requestId,
          resetReapplyType: ResetReapplyType.RESET_REAPPLY_TYPE_ALL_ELIGIBLE,
        }),
      deadline,
    );
    this.tally.resets += 1;
    return { point, eventId: Number(eventId), workflowTasks: completed.length, decided, runId: reset.runId ?? '' };
  }

  /** Terminates the order's checkout, as `temporal workflow terminate` or the Web UI does. */
  async terminate(orderId: string, deadline: number): Promise<void> {
    await answered(
      'terminate',
      () => this.client.workflow.getHandle(orderWorkflowId(orderId)).terminate('chaos: terminated by an operator'),
      deadline,
    );
    this.tally.terminations += 1;
  }

  /**
   * What `npm run ops -- reconcile --grace-seconds 0` says of the order as stranded, over this one
   * order: a recorded order without a running workflow (order-has-workflow), or stock held for an
   * order its run never recorded (no-live-reservation). The operator repairs what it names.
   */
  async strandedFindings(orderId: string): Promise<string[]> {
    const report = await checkInvariants({
      db: this.pools,
      orderIds: [orderId],
      graceSeconds: 0,
      checkoutRunning: (id) => checkoutRunning(this.client, id),
    });
    return report.violations
      .filter(
        (violation) =>
          (violation.invariant === INVARIANTS.orderHasWorkflow ||
            violation.invariant === INVARIANTS.noLiveReservation) &&
          violation.orderId === orderId,
      )
      .map((violation) => violation.detail);
  }

  /** `npm run ops -- repair <orderId>`: a recovery run of a stranded order. */
  async repair(orderId: string, deadline: number): Promise<RepairOutcome> {
    const outcome = await answered(
      'repair',
      () =>
        repairOrder(
          {
            temporal: this.client,
            orders: this.services.orders,
            payments: this.services.payments,
            orderTtlSeconds: this.orderTtlSeconds,
          },
          orderId,
        ),
      deadline,
    );
    if (outcome.action === 'started') this.tally.repairs += 1;
    return outcome;
  }
}
