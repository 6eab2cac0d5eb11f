/** What a workflow history tells a benchmark: its size, and how long tasks waited to be picked up. */
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { distribution, type Distribution } from './stats';

type History = temporal.api.history.v1.IHistory;
type Timestamp = { seconds?: number | { toNumber(): number } | null; nanos?: number | null } | null | undefined;

const EventType = temporal.api.enums.v1.EventType;

/** Temporal's limits on one workflow execution (the defaults of the server's dynamic config). */
export const TEMPORAL_LIMITS = {
  historyEvents: 51_200,
  historyBytes: 50 * 1024 * 1024,
  payloadBytes: 2 * 1024 * 1024,
  /** Where the server starts warning (and where continue-as-new is suggested). */
  historyEventsWarn: 10_240,
  historyBytesWarn: 10 * 1024 * 1024,
  payloadBytesWarn: 512 * 1024,
} as const;

export function timestampMs(ts: Timestamp): number {
  if (!ts) return Number.NaN;
  const seconds = typeof ts.seconds === 'number' ? ts.seconds : (ts.seconds?.toNumber() ?? 0);
  return seconds * 1000 + (ts.nanos ?? 0) / 1e6;
}

export interface HistoryCost {
  events: number;
  /** The history's protobuf encoding, as the server stores and limits it. */
  bytes: number;
  /** The largest single payload (input, result, update argument...) in the history. */
  largestPayloadBytes: number;
  activities: number;
  workflowTasks: number;
}

export interface HistoryWaits {
  /** Activity task scheduled → started (picked up by a worker), per activity. */
  activityScheduleToStartMs: number[];
  /** Workflow task scheduled → started, per workflow task. */
  workflowTaskScheduleToStartMs: number[];
}

export function historyCost(history: History): HistoryCost {
  const events = history.events ?? [];
  let largestPayloadBytes = 0;
  let activities = 0;
  let workflowTasks = 0;
  for (const event of events) {
    if (event.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED) activities += 1;
    if (event.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED) workflowTasks += 1;
    for (const payload of payloadsOf(event)) {
      const size = temporal.api.common.v1.Payload.encode(payload).finish().length;
      largestPayloadBytes = Math.max(largestPayloadBytes, size);
    }
  }
  return {
    events: events.length,
    bytes: temporal.api.history.v1.History.encode(history).finish().length,
    largestPayloadBytes,
    activities,
    workflowTasks,
  };
}

export function historyWaits(history: History): HistoryWaits {
  const scheduledAt = new Map<number, number>();
  const waits: HistoryWaits = { activityScheduleToStartMs: [], workflowTaskScheduleToStartMs: [] };
  for (const event of history.events ?? []) {
    const id = Number(event.eventId);
    const at = timestampMs(event.eventTime as Timestamp);
    switch (event.eventType) {
      case EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
      case EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
        scheduledAt.set(id, at);
        break;
      case EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED: {
        const scheduled = scheduledAt.get(Number(event.activityTaskStartedEventAttributes?.scheduledEventId));
        if (scheduled !== undefined) waits.activityScheduleToStartMs.push(at - scheduled);
        break;
      }
      case EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED: {
        const scheduled = scheduledAt.get(Number(event.workflowTaskStartedEventAttributes?.scheduledEventId));
        if (scheduled !== undefined) waits.workflowTaskScheduleToStartMs.push(at - scheduled);
        break;
      }
      default:
        break;
    }
  }
  return waits;
}

/** The schedule-to-start waits of many histories, as distributions. */
export function scheduleToStart(histories: Iterable<History>): {
  activityScheduleToStartMs: Distribution;
  workflowTaskScheduleToStartMs: Distribution;
} {
  const all: HistoryWaits = { activityScheduleToStartMs: [], workflowTaskScheduleToStartMs: [] };
  for (const history of histories) {
    const waits = historyWaits(history);
    all.activityScheduleToStartMs.push(...waits.activityScheduleToStartMs);
    all.workflowTaskScheduleToStartMs.push(...waits.workflowTaskScheduleToStartMs);
  }
  return {
    activityScheduleToStartMs: distribution(all.activityScheduleToStartMs),
    workflowTaskScheduleToStartMs: distribution(all.workflowTaskScheduleToStartMs),
  };
}

/** Every payload an event carries (inputs, results, update and signal arguments, failures' details are left out). */
function* payloadsOf(event: temporal.api.history.v1.IHistoryEvent): Generator<temporal.api.common.v1.IPayload> {
  const groups = [
    event.workflowExecutionStartedEventAttributes?.input,
    event.workflowExecutionCompletedEventAttributes?.result,
    event.activityTaskScheduledEventAttributes?.input,
    event.activityTaskCompletedEventAttributes?.result,
    event.workflowExecutionSignaledEventAttributes?.input,
    event.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.args,
    event.workflowExecutionUpdateCompletedEventAttributes?.outcome?.success,
    event.workflowExecutionContinuedAsNewEventAttributes?.input,
  ];
  for (const group of groups) for (const payload of group?.payloads ?? []) yield payload;
}

/** Fetches histories `concurrency` at a time. */
export async function fetchHistories(
  client: Client,
  workflowIds: readonly string[],
  concurrency = 8,
): Promise<Map<string, History>> {
  const histories = new Map<string, History>();
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, workflowIds.length) }, async () => {
      while (next < workflowIds.length) {
        const id = workflowIds[next++]!;
        histories.set(id, await client.workflow.getHandle(id).fetchHistory());
      }
    }),
  );
  return histories;
}

/** Where a placement's time went inside the workflow: from its start to the answer of its first update. */
export interface PlacementTrace {
  /** WorkflowExecutionStarted → the first WorkflowExecutionUpdateCompleted (the `placed` answer). */
  inWorkflowMs: number;
  workflowTasks: number;
  activities: number;
  /** Summed over the trace: the dispatch waits (scheduled → started). */
  workflowTaskWaitMs: number;
  activityWaitMs: number;
  /** Summed over the trace: workflow tasks started → completed (the worker running the workflow code). */
  workflowTaskRunMs: number;
  /** Summed over the trace: activities started → completed (the services' work; side by side ones each count). */
  activityRunMs: number;
}

export function placementTrace(history: History): PlacementTrace | undefined {
  const events = history.events ?? [];
  const answered = events.findIndex(
    (event) => event.eventType === EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED,
  );
  if (answered < 0 || events.length === 0) return undefined;
  const upToAnswer = { events: events.slice(0, answered + 1) };
  const waits = historyWaits(upToAnswer);
  const sum = (values: number[]) => values.reduce((total, value) => total + value, 0);
  const startedAt = new Map<number, number>();
  let workflowTaskRunMs = 0;
  let activityRunMs = 0;
  for (const event of upToAnswer.events) {
    const at = timestampMs(event.eventTime as Timestamp);
    if (
      event.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED ||
      event.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED
    )
      startedAt.set(Number(event.eventId), at);
    if (event.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED) {
      const started = startedAt.get(Number(event.workflowTaskCompletedEventAttributes?.startedEventId));
      if (started !== undefined) workflowTaskRunMs += at - started;
    }
    if (event.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED) {
      const started = startedAt.get(Number(event.activityTaskCompletedEventAttributes?.startedEventId));
      if (started !== undefined) activityRunMs += at - started;
    }
  }
  return {
    workflowTaskRunMs,
    activityRunMs,
    inWorkflowMs:
      timestampMs(events[answered]!.eventTime as Timestamp) - timestampMs(events[0]!.eventTime as Timestamp),
    workflowTasks: upToAnswer.events.filter((event) => event.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED)
      .length,
    activities: upToAnswer.events.filter((event) => event.eventType === EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED)
      .length,
    workflowTaskWaitMs: sum(waits.workflowTaskScheduleToStartMs),
    activityWaitMs: sum(waits.activityScheduleToStartMs),
  };
}
