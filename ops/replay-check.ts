/**
 * The release gate (docs/changing-workflows.md): the histories the namespace holds, replayed
 * against the workflow code about to take traffic. A change that makes a recorded workflow take
 * another path is named with the history and its first divergent event before any worker runs it.
 * `npm run ops -- replay-check` runs it on its own, `set-current` before it routes anything.
 */
import type { Client } from '@temporalio/client';
import type { DataConverter } from '@temporalio/common';
import { historyFromJSON, type History } from '@temporalio/common/lib/proto-utils';
import { bundleWorkflowCode, Worker, type WorkflowBundleOption } from '@temporalio/worker';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { SILENT_LOGGER } from '../lib/logging';
import { visibilityVersion, type WorkerDeploymentVersion } from '../worker/deployment';
import * as workflows from '../workflows';
import { OperationError } from './orders';

/** Every workflow type the worker registers: the gate replays each. */
export const WORKFLOW_TYPES: readonly string[] = Object.keys(workflows).sort();

export interface HistoryToReplay {
  workflowId: string;
  runId?: string;
  type: string;
  history: History;
}

export interface ReplayFailure {
  workflowId: string;
  runId?: string;
  type: string;
  /** The first event the code no longer agrees with, as `#28 ActivityTaskScheduled (setOrderStatus)`. */
  firstDivergentEvent?: string;
  /** What the SDK said of it. */
  reason: string;
}

export interface ReplayReport {
  /** Per workflow type: histories replayed, and how many of them diverged. */
  types: Record<string, { replayed: number; failed: number }>;
  failures: ReplayFailure[];
}

export interface RecentHistoriesOptions {
  /** Histories of workflows still open, or closed within this long. */
  sinceMs: number;
  /** At most this many histories per workflow type, newest first. */
  limit: number;
  types?: readonly string[];
  /**
   * The version about to become current: workflows pinned to another version never run its code,
   * so they are left out (an incompatible change ships safely as a new version: they stay where they are).
   */
  movingTo?: WorkerDeploymentVersion;
}

/** The visibility query for one type's recent executions, as an operator would type it in the Web UI. */
export function recentHistoriesQuery(type: string, since: Date, movingTo?: WorkerDeploymentVersion): string {
  if (!/^[A-Za-z0-9_]+$/.test(type)) throw new OperationError(`"${type}" is not a workflow type`);
  const clauses = [
    `WorkflowType = '${type}'`,
    `(ExecutionStatus = 'Running' OR CloseTime >= '${since.toISOString()}')`,
  ];
  if (movingTo)
    clauses.push(
      `(TemporalWorkflowVersioningBehavior IS NULL OR TemporalWorkflowVersioningBehavior != 'Pinned' OR TemporalWorkerDeploymentVersion = '${visibilityVersion(movingTo)}')`,
    );
  return clauses.join(' AND ');
}

/** Histories fetched at once. */
const FETCHES_AT_ONCE = 8;

export async function fetchRecentHistories(
  client: Client,
  options: RecentHistoriesOptions,
): Promise<HistoryToReplay[]> {
  const types = options.types ?? WORKFLOW_TYPES;
  for (const type of types)
    if (!WORKFLOW_TYPES.includes(type))
      throw new OperationError(`Unknown workflow type "${type}"; one of ${WORKFLOW_TYPES.join(', ')}`);
  const since = new Date(Date.now() - options.sinceMs);
  const executions: { workflowId: string; runId: string; type: string }[] = [];
  for (const type of types) {
    let taken = 0;
    const query = recentHistoriesQuery(type, since, options.movingTo);
    for await (const info of client.workflow.list({ query, pageSize: Math.min(options.limit, 100) })) {
      executions.push({ workflowId: info.workflowId, runId: info.runId, type });
      if (++taken >= options.limit) break;
    }
  }
  const histories: HistoryToReplay[] = [];
  for (let start = 0; start < executions.length; start += FETCHES_AT_ONCE) {
    const batch = executions.slice(start, start + FETCHES_AT_ONCE);
    histories.push(
      ...(await Promise.all(
        batch.map(async (execution) => ({
          ...execution,
          history: await client.workflow.getHandle(execution.workflowId, execution.runId).fetchHistory(),
        })),
      )),
    );
  }
  return histories;
}

/** Exported histories (`temporal workflow show --output json`, workflows/histories/), one per `.json` file, named by the file. */
export function historiesFromDir(dir: string): HistoryToReplay[] {
  let files: string[];
  try {
    files = readdirSync(dir)
      .filter((file) => file.endsWith('.json'))
      .sort();
  } catch (error) {
    throw new OperationError(`Cannot read histories from ${dir}: ${(error as Error).message}`);
  }
  return files.map((file) => {
    let history: History;
    try {
      history = historyFromJSON(JSON.parse(readFileSync(path.join(dir, file), 'utf8')));
    } catch (error) {
      throw new OperationError(`${path.join(dir, file)} is not a workflow history: ${(error as Error).message}`);
    }
    const type = history.events?.[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name ?? '?';
    return { workflowId: path.basename(file, '.json'), type, history };
  });
}

/** The workflow code this checkout ships: WORKFLOW_BUNDLE (bundled ahead of time, as the worker reads it), else workflows/ bundled now. */
export async function currentWorkflowCode(env: NodeJS.ProcessEnv = process.env): Promise<WorkflowBundleOption> {
  const prebundled = env.WORKFLOW_BUNDLE?.trim();
  if (prebundled) return { codePath: prebundled };
  return bundleWorkflowCode({ workflowsPath: require.resolve('../workflows'), logger: SILENT_LOGGER });
}

export interface ReplayOptions {
  workflowBundle: WorkflowBundleOption;
  /** The client's converter: with payload encryption on, the codec decodes what the server stores. */
  dataConverter?: DataConverter;
}

/** Replays every history against the code; for each that diverges, finds the first event where it does. */
export async function replayHistories(
  histories: readonly HistoryToReplay[],
  options: ReplayOptions,
): Promise<ReplayReport> {
  const report: ReplayReport = { types: {}, failures: [] };
  const byKey = new Map(histories.map((h, index) => [`${index}`, h]));
  const errors = await replay(
    [...byKey].map(([key, h]) => ({ workflowId: key, history: h.history })),
    options,
  );
  for (const [key, h] of byKey) {
    const counts = (report.types[h.type] ??= { replayed: 0, failed: 0 });
    counts.replayed += 1;
    const error = errors.get(key);
    if (!error) continue;
    counts.failed += 1;
    report.failures.push({
      workflowId: h.workflowId,
      ...(h.runId ? { runId: h.runId } : {}),
      type: h.type,
      ...(await firstDivergence(h.history, error, options)),
    });
  }
  return report;
}

/** The replay errors by workflow id (each history is given its own id). */
async function replay(
  histories: { workflowId: string; history: History }[],
  options: ReplayOptions,
): Promise<Map<string, string>> {
  const errors = new Map<string, string>();
  if (histories.length === 0) return errors;
  for await (const result of Worker.runReplayHistories(
    {
      workflowBundle: options.workflowBundle,
      ...(options.dataConverter ? { dataConverter: options.dataConverter } : {}),
    },
    histories,
  ))
    if (result.error) errors.set(result.workflowId, result.error.message);
  return errors;
}

type HistoryEvent = NonNullable<History['events']>[number];

/**
 * The history cut after each workflow task it started: the replayer runs the last task of a cut
 * without comparing its commands, so the shortest cut that still fails ends one task after the
 * divergent one, whose commands follow its WorkflowTaskCompleted.
 */
async function firstDivergence(
  history: History,
  error: string,
  options: ReplayOptions,
): Promise<{ firstDivergentEvent?: string; reason: string }> {
  const reason = sdkReason(error);
  const events = history.events ?? [];
  const cuts = events.flatMap((event, index) => (event.workflowTaskStartedEventAttributes ? [index + 1] : []));
  const failing = await replay(
    cuts.map((cut) => ({ workflowId: String(cut), history: { events: events.slice(0, cut) } })),
    options,
  );
  const cut = cuts.find((at) => failing.has(String(at))) ?? events.length;
  const prefix = events.slice(0, cut);
  let taskAt = prefix.length - 1;
  while (taskAt >= 0 && !prefix[taskAt]!.workflowTaskCompletedEventAttributes) taskAt -= 1;
  if (taskAt < 0) return { reason };
  const commands = prefix.slice(taskAt + 1).filter((event) => isCommandEvent(event));
  // The SDK names the event it compared (an activity's type, a timer's id) when it can: that one, else the task's first command.
  const named = /scheduled event '([^']+)'|event '([^']+)'/.exec(reason);
  const divergent =
    commands.find((event) => named && describeEvent(event).includes(`(${named[1] ?? named[2]})`)) ??
    commands[0] ??
    prefix[taskAt]!;
  return { firstDivergentEvent: describeEvent(divergent), reason };
}

/** The events a workflow task's commands write (the rest come from the server or the outside). */
function isCommandEvent(event: HistoryEvent): boolean {
  return Boolean(
    event.activityTaskScheduledEventAttributes ||
    event.timerStartedEventAttributes ||
    event.markerRecordedEventAttributes ||
    event.startChildWorkflowExecutionInitiatedEventAttributes ||
    event.signalExternalWorkflowExecutionInitiatedEventAttributes ||
    event.requestCancelExternalWorkflowExecutionInitiatedEventAttributes ||
    event.upsertWorkflowSearchAttributesEventAttributes ||
    event.workflowPropertiesModifiedEventAttributes ||
    event.activityTaskCancelRequestedEventAttributes ||
    event.timerCanceledEventAttributes ||
    event.workflowExecutionUpdateAcceptedEventAttributes ||
    event.workflowExecutionUpdateCompletedEventAttributes ||
    event.workflowExecutionCompletedEventAttributes ||
    event.workflowExecutionFailedEventAttributes ||
    event.workflowExecutionContinuedAsNewEventAttributes,
  );
}

/** `#28 ActivityTaskScheduled (setOrderStatus)`: the event id, its type, and what it names. */
export function describeEvent(event: HistoryEvent): string {
  const type = Object.keys(event)
    .find((key) => key.endsWith('EventAttributes') && (event as Record<string, unknown>)[key])
    ?.replace(/EventAttributes$/, '');
  const name =
    event.activityTaskScheduledEventAttributes?.activityType?.name ??
    event.timerStartedEventAttributes?.timerId ??
    event.markerRecordedEventAttributes?.markerName ??
    event.startChildWorkflowExecutionInitiatedEventAttributes?.workflowType?.name;
  const pretty = type ? type.charAt(0).toUpperCase() + type.slice(1) : 'event';
  return `#${String(event.eventId)} ${pretty}${name ? ` (${name})` : ''}`;
}

/** The SDK's own sentence ("[TMPRL1100] Nondeterminism error: ...") out of its wrapping. */
function sdkReason(message: string): string {
  const inner = /message: "((?:[^"\\]|\\.)*)"/.exec(message);
  return inner ? inner[1]!.replace(/\\"/g, '"') : message;
}

export function formatReplayReport(report: ReplayReport, source: string): string {
  const lines = Object.entries(report.types)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([type, counts]) => `${type.padEnd(22)} ${counts.replayed} replayed, ${counts.failed} diverged`);
  if (lines.length === 0) lines.push(`no histories found in ${source}`);
  for (const failure of report.failures) {
    lines.push(
      `  ✗ ${failure.workflowId}${failure.runId ? ` (run ${failure.runId})` : ''}, ${failure.type}: first divergent event ${failure.firstDivergentEvent ?? '?'}: ${failure.reason}`,
    );
  }
  const total = Object.values(report.types).reduce((sum, counts) => sum + counts.replayed, 0);
  lines.push(
    report.failures.length === 0
      ? `${total} histories from ${source} replay with this workflow code`
      : `${report.failures.length} of ${total} histories from ${source} do not replay with this workflow code: ship the change behind patched() or as a new worker version (docs/changing-workflows.md)`,
  );
  return lines.join('\n');
}
