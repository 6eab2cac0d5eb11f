/**
 * The reconciler's Temporal Schedule: every `RECONCILER_INTERVAL_SECONDS` (default 5 minutes) it
 * starts `reconcilerWorkflow`, never two at once (overlap SKIP). The worker that polls the
 * `reconciler` queue creates or updates it as it starts (docs/reconciler.md says why there).
 */
import {
  ScheduleAlreadyRunning,
  ScheduleOverlapPolicy,
  type Client,
  type ScheduleOptionsStartWorkflowAction,
  type ScheduleSpec,
} from '@temporalio/client';
import type { reconcilerWorkflow } from '../workflows/reconciler.workflow';
import { RECONCILER_SCHEDULE_ID, RECONCILER_WORKFLOW_ID, TASK_QUEUES } from '../workflows/contract';

export const DEFAULT_RECONCILER_INTERVAL_SECONDS = 300;

export function reconcilerIntervalFromEnv(env: Record<string, string | undefined> = process.env): number {
  const raw = env.RECONCILER_INTERVAL_SECONDS?.trim() ?? '';
  if (raw === '') return DEFAULT_RECONCILER_INTERVAL_SECONDS;
  const seconds = Number(raw);
  if (!Number.isInteger(seconds) || seconds < 10)
    throw new Error(`RECONCILER_INTERVAL_SECONDS must be a whole number of seconds, at least 10, got "${raw}"`);
  return seconds;
}

export interface ReconcilerScheduleOptions {
  intervalSeconds: number;
}

function definition(options: ReconcilerScheduleOptions): {
  spec: ScheduleSpec;
  action: ScheduleOptionsStartWorkflowAction<typeof reconcilerWorkflow>;
} {
  return {
    spec: { intervals: [{ every: `${options.intervalSeconds}s` }] },
    action: {
      type: 'startWorkflow',
      workflowType: 'reconcilerWorkflow',
      workflowId: RECONCILER_WORKFLOW_ID,
      taskQueue: TASK_QUEUES.checkout,
      args: [{}],
      // A run stuck past this lets the next one start (SKIP waits for the running one).
      workflowRunTimeout: '15 minutes',
    },
  };
}

/**
 * Creates the Schedule, or brings an existing one to this interval and action. Idempotent, so
 * every replica of the worker may call it at start; an operator's pause survives (state is kept).
 */
export async function ensureReconcilerSchedule(
  client: Client,
  options: ReconcilerScheduleOptions,
): Promise<{ created: boolean }> {
  const { spec, action } = definition(options);
  const policies = { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '1 minute' as const };
  try {
    await client.schedule.create({ scheduleId: RECONCILER_SCHEDULE_ID, spec, action, policies });
    return { created: true };
  } catch (error) {
    if (!(error instanceof ScheduleAlreadyRunning)) throw error;
  }
  await client.schedule
    .getHandle(RECONCILER_SCHEDULE_ID)
    .update((previous) => ({ ...previous, spec, action, policies: { ...previous.policies, ...policies } }));
  return { created: false };
}
