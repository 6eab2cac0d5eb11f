/**
 * What an operator does with orders, through Temporal alone (no service database): find
 * orders by status or customer in visibility, read one order's state, memo, summary and
 * step timeline, and wait for it to close (retry and resolve: ops/operator-actions.ts).
 * `npm run ops` (scripts/ops.ts) is the command line over these functions.
 */
import { WorkflowNotFoundError, type Client, type Connection, type WorkflowExecutionInfo } from '@temporalio/client';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { temporal as temporalProto, type temporal } from '@temporalio/proto';
import { msToTs } from '@temporalio/common/lib/time';
import {
  checkoutStateQuery,
  CUSTOMER_ID_KEY,
  ORDER_STATUS_KEY,
  ORDER_STATUSES,
  orderWorkflowId,
  type CheckoutState,
  type OrderStatus,
} from '../workflows/contract';

export { ORDER_STATUSES };

/** The user ids of docs/design.md; anything else could not be a customer and must not reach a query string. */
const USER_ID = /^[A-Za-z0-9_-]{1,64}$/;

export class OperationError extends Error {}

export interface OrderFilter {
  status?: OrderStatus;
  customerId?: string;
}

/** The visibility query for a filter, as an operator would type it in the Web UI. */
export function ordersQuery(filter: OrderFilter): string {
  const clauses = [`WorkflowType = 'checkoutWorkflow'`];
  if (filter.status) {
    if (!(ORDER_STATUSES as readonly string[]).includes(filter.status))
      throw new OperationError(`Unknown status "${filter.status}"; one of ${ORDER_STATUSES.join(', ')}`);
    clauses.push(`${ORDER_STATUS_KEY.name} = '${filter.status}'`);
  }
  if (filter.customerId) {
    if (!USER_ID.test(filter.customerId)) throw new OperationError(`"${filter.customerId}" is not a user id`);
    clauses.push(`${CUSTOMER_ID_KEY.name} = '${filter.customerId}'`);
  }
  return clauses.join(' AND ');
}

export interface OrderListing {
  orderId: string;
  workflowId: string;
  runId: string;
  /** The order's status (search attribute `OrderStatus`). */
  status: string | undefined;
  customerId: string | undefined;
  totalCents: number | undefined;
  currency: string | undefined;
  units: number | undefined;
  /** The workflow execution's own status: Running, Completed... */
  execution: string;
  startTime: string;
  closeTime: string | undefined;
}

export async function listOrders(client: Client, filter: OrderFilter, limit = 100): Promise<OrderListing[]> {
  const orders: OrderListing[] = [];
  for await (const info of client.workflow.list({ query: ordersQuery(filter), pageSize: Math.min(limit, 100) })) {
    orders.push(listing(info));
    if (orders.length >= limit) break;
  }
  return orders;
}

function listing(info: Omit<WorkflowExecutionInfo, 'raw'>): OrderListing {
  const memo = (info.memo ?? {}) as { customerId?: string; totalCents?: number; currency?: string; units?: number };
  return {
    orderId: info.workflowId.replace(/^order-/, ''),
    workflowId: info.workflowId,
    runId: info.runId,
    status: info.typedSearchAttributes.get(ORDER_STATUS_KEY),
    customerId: info.typedSearchAttributes.get(CUSTOMER_ID_KEY) ?? memo.customerId,
    totalCents: memo.totalCents,
    currency: memo.currency,
    units: memo.units,
    execution: info.status.name,
    startTime: info.startTime.toISOString(),
    closeTime: info.closeTime?.toISOString(),
  };
}

/** One step the workflow scheduled, in the words of its summary (user metadata on the command). */
export interface TimelineStep {
  kind: 'activity' | 'timer';
  /** Activity type, or `timer`. */
  name: string;
  summary: string | undefined;
  outcome: 'running' | 'completed' | 'failed' | 'timed out' | 'cancelled' | 'fired';
  failure?: string;
}

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

/** The steps of a history, in the order they were scheduled, with how each ended. */
export function stepTimeline(events: readonly HistoryEvent[]): TimelineStep[] {
  const steps = new Map<number, TimelineStep>();
  for (const event of events) {
    const id = Number(event.eventId);
    const summary = summaryOf(event.userMetadata?.summary);
    if (event.activityTaskScheduledEventAttributes) {
      steps.set(id, {
        kind: 'activity',
        name: event.activityTaskScheduledEventAttributes.activityType?.name ?? '?',
        summary,
        outcome: 'running',
      });
    } else if (event.timerStartedEventAttributes) {
      steps.set(id, { kind: 'timer', name: 'timer', summary, outcome: 'running' });
    }
    const ended =
      (event.activityTaskCompletedEventAttributes && {
        from: event.activityTaskCompletedEventAttributes.scheduledEventId,
        outcome: 'completed' as const,
      }) ||
      (event.activityTaskFailedEventAttributes && {
        from: event.activityTaskFailedEventAttributes.scheduledEventId,
        outcome: 'failed' as const,
        failure: event.activityTaskFailedEventAttributes.failure?.message ?? undefined,
      }) ||
      (event.activityTaskTimedOutEventAttributes && {
        from: event.activityTaskTimedOutEventAttributes.scheduledEventId,
        outcome: 'timed out' as const,
      }) ||
      (event.activityTaskCanceledEventAttributes && {
        from: event.activityTaskCanceledEventAttributes.scheduledEventId,
        outcome: 'cancelled' as const,
      }) ||
      (event.timerFiredEventAttributes && {
        from: event.timerFiredEventAttributes.startedEventId,
        outcome: 'fired' as const,
      }) ||
      (event.timerCanceledEventAttributes && {
        from: event.timerCanceledEventAttributes.startedEventId,
        outcome: 'cancelled' as const,
      });
    if (ended) {
      const step = steps.get(Number(ended.from));
      if (step) {
        step.outcome = ended.outcome;
        if ('failure' in ended && ended.failure) step.failure = ended.failure;
      }
    }
  }
  return [...steps.values()];
}

function summaryOf(payload: temporal.api.common.v1.IPayload | null | undefined): string | undefined {
  if (!payload) return undefined;
  const value = defaultPayloadConverter.fromPayload<unknown>(payload as Payload);
  return typeof value === 'string' ? value : undefined;
}

export interface OrderDetails extends OrderListing {
  /** The workflow's own summary (`staticSummary`, set at start). */
  summary: string | undefined;
  /** The workflow's fixed details (`staticDetails`): the order's lines. */
  details: string | undefined;
  /** What the workflow is doing now (`setCurrentDetails`). */
  currentDetails: string | undefined;
  memo: Record<string, unknown>;
  searchAttributes: Record<string, unknown>;
  /** The `state` query's answer; undefined when no worker answered in time (or the workflow is gone). */
  state: CheckoutState | undefined;
  stateError?: string;
  /** Activities Temporal is retrying right now, with their last failure. */
  pendingActivities: { name: string; attempt: number; lastFailure: string | undefined }[];
  steps: TimelineStep[];
}

const QUERY_DEADLINE_MS = 5_000;

export async function showOrder(client: Client, orderId: string): Promise<OrderDetails> {
  const handle = client.workflow.getHandle(orderWorkflowId(orderId));
  let description;
  try {
    description = await handle.describe();
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) throw new OperationError(`No order ${orderId} in this namespace`);
    throw error;
  }
  const [summary, details, history, state, metadata] = await Promise.all([
    description.staticSummary(),
    description.staticDetails(),
    handle.fetchHistory(),
    queryWithin(client, () => handle.query(checkoutStateQuery)),
    queryWithin(client, () => handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata')),
  ]);
  return {
    ...listing(description),
    summary,
    details,
    currentDetails: metadata.value?.currentDetails || undefined,
    memo: description.memo ?? {},
    // BuildIds is Temporal's own bookkeeping, not the order's.
    searchAttributes: Object.fromEntries(
      description.typedSearchAttributes
        .getAll()
        .filter((pair) => pair.key.name !== 'BuildIds')
        .map((pair) => [pair.key.name, pair.value]),
    ),
    state: state.value,
    ...(state.error ? { stateError: state.error } : {}),
    pendingActivities: (description.raw.pendingActivities ?? []).map((activity) => ({
      name: activity.activityType?.name ?? '?',
      attempt: activity.attempt ?? 0,
      lastFailure: activity.lastFailure?.message ?? undefined,
    })),
    steps: stepTimeline(await decodeSummaries(client, history.events ?? [])),
  };
}

/** A fetched history is as the server keeps it: with payload encryption on, the step summaries need the client's codec first. */
async function decodeSummaries(client: Client, events: HistoryEvent[]): Promise<HistoryEvent[]> {
  const codecs = client.options.loadedDataConverter.payloadCodecs;
  if (codecs.length === 0) return events;
  return Promise.all(
    events.map(async (event) => {
      if (!event.userMetadata?.summary) return event;
      let payloads = [event.userMetadata.summary as Payload];
      for (const codec of [...codecs].reverse()) payloads = await codec.decode(payloads);
      return { ...event, userMetadata: { ...event.userMetadata, summary: payloads[0] } };
    }),
  );
}

/** A query needs a worker to answer: without one it fails after a short deadline instead of hanging. */
async function queryWithin<T>(client: Client, run: () => Promise<T>): Promise<{ value?: T; error?: string }> {
  try {
    return { value: await client.withDeadline(Date.now() + QUERY_DEADLINE_MS, run) };
  } catch (error) {
    return {
      error: `the workflow did not answer (is a worker polling the checkout queue?): ${(error as Error).message}`,
    };
  }
}

/** Waits for the order's workflow to close; its final state, or undefined when `timeoutMs` passes first. */
export async function waitForOrder(
  client: Client,
  orderId: string,
  timeoutMs: number,
): Promise<CheckoutState | undefined> {
  const handle = client.workflow.getHandle(orderWorkflowId(orderId));
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), timeoutMs)));
  try {
    return await Promise.race([handle.result() as Promise<CheckoutState>, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The search attributes the checkout workflow sets, as visibility must know them before the first order starts. */
export const ORDER_SEARCH_ATTRIBUTES = [ORDER_STATUS_KEY.name, CUSTOMER_ID_KEY.name] as const;

export interface PrepareNamespaceOptions {
  /** How long closed workflows stay readable, for a namespace created here (default 7 days). */
  retentionDays?: number;
  /** How long to wait for a new namespace or attribute to show in the server's caches. */
  timeoutMs?: number;
  log?: (line: string) => void;
}

const GRPC_NOT_FOUND = 5;
const GRPC_ALREADY_EXISTS = 6;
const GRPC_PERMISSION_DENIED = 7;
const KEYWORD = temporalProto.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD;

/**
 * Makes a namespace ready for the storefront: creates it where this credential may (a
 * self-hosted cluster; on Temporal Cloud a namespace is created in the Cloud console or with
 * tcld, and this step then only checks it exists), then registers `OrderStatus` and `CustomerId`
 * as Keyword search attributes. Idempotent: a second run finds everything in place and changes nothing.
 */
export async function prepareNamespace(
  connection: Pick<Connection, 'workflowService' | 'operatorService'>,
  namespace: string,
  options: PrepareNamespaceOptions = {},
): Promise<{ created: boolean; added: string[] }> {
  const log = options.log ?? (() => undefined);
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  let created = false;
  try {
    await connection.workflowService.describeNamespace({ namespace });
  } catch (error) {
    if (grpcCode(error) !== GRPC_NOT_FOUND) throw error;
    try {
      await connection.workflowService.registerNamespace({
        namespace,
        workflowExecutionRetentionPeriod: msToTs((options.retentionDays ?? 7) * 86_400_000),
      });
      created = true;
      log(`created namespace ${namespace} (retention ${options.retentionDays ?? 7} days)`);
    } catch (registerError) {
      if (grpcCode(registerError) === GRPC_PERMISSION_DENIED) {
        throw new OperationError(
          `Namespace ${namespace} does not exist and this credential may not create it: create it in Temporal Cloud (console or tcld), then run this again`,
        );
      }
      if (grpcCode(registerError) !== GRPC_ALREADY_EXISTS) throw registerError;
    }
  }

  // A new namespace reaches the frontend's cache some seconds after it is written: wait for it to answer.
  const current = await untilDeadline(deadline, `namespace ${namespace} to answer`, () =>
    connection.operatorService.listSearchAttributes({ namespace }),
  );
  const added: string[] = [];
  for (const name of ORDER_SEARCH_ATTRIBUTES) {
    const type = current.customAttributes?.[name];
    if (type === KEYWORD) continue;
    if (type !== undefined && type !== null)
      throw new OperationError(
        `Search attribute ${name} exists in ${namespace} with another type (${type}); it must be Keyword`,
      );
    try {
      await connection.operatorService.addSearchAttributes({ namespace, searchAttributes: { [name]: KEYWORD } });
    } catch (error) {
      if (grpcCode(error) === GRPC_PERMISSION_DENIED) {
        throw new OperationError(
          `This credential may not add search attributes to ${namespace}: add ${name} (Keyword) in Temporal Cloud (console or tcld)`,
        );
      }
      if (grpcCode(error) !== GRPC_ALREADY_EXISTS) throw error;
    }
    added.push(name);
    log(`registered search attribute ${name} (Keyword) in ${namespace}`);
  }
  await untilDeadline(deadline, `search attributes ${ORDER_SEARCH_ATTRIBUTES.join(', ')} in ${namespace}`, async () => {
    const { customAttributes } = await connection.operatorService.listSearchAttributes({ namespace });
    if (!ORDER_SEARCH_ATTRIBUTES.every((name) => customAttributes?.[name] === KEYWORD))
      throw new Error('not registered yet');
  });
  return { created, added };
}

function grpcCode(error: unknown): number | undefined {
  return (error as { code?: number }).code;
}

/** Retries `attempt` (every 250 ms) until it succeeds or the deadline passes, then fails with its last error. */
async function untilDeadline<T>(deadline: number, what: string, attempt: () => Promise<T>): Promise<T> {
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (Date.now() > deadline) throw new OperationError(`Gave up waiting for ${what}: ${(error as Error).message}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}
