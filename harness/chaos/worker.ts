/**
 * The chaos run's worker process: the worker process itself (worker/process.ts, what
 * `worker.ts` runs), with
 * - an activity interceptor that stops at the boundaries the driver armed (over stdin): at an
 *   armed boundary it prints `CHAOS-PAUSED <json>` and holds that one activity, so the driver can
 *   SIGKILL the process exactly there (everything else in the process keeps running until then),
 *   or reset or terminate its workflow there and then let the activity go on (`release`);
 * - a standby mode (CHAOS_WAIT_FOR_GO): the process loads everything and connects, then waits for
 *   `{"go": true}` before creating its workers, so that a replacement is ready the moment the driver kills;
 * - the workflow bundle the driver built once (WORKFLOW_BUNDLE, as any worker process reads it), so a restarted worker is
 *   ready in a second instead of re-bundling, and every incarnation runs the same workflow code
 *   even while someone edits the working tree.
 */
import type { Context } from '@temporalio/activity';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import readline from 'node:readline';
import { main } from '../../worker/process';
import { matches, PAUSED_PREFIX, type ArmedBoundary, type BoundaryPhase, type PausedReport } from './boundaries';

const armed = new Map<string, ArmedBoundary>();
const reported = new Set<string>();
/** The activities held at each boundary, by the boundary's id: a release lets them go on. */
const held = new Map<string, Array<() => void>>();
let go!: () => void;
const going = new Promise<void>((resolve) => (go = resolve));

readline.createInterface({ input: process.stdin, crlfDelay: Infinity }).on('line', (line) => {
  if (!line.trim()) return;
  const message = JSON.parse(line) as { arm?: ArmedBoundary[]; disarm?: string[]; release?: string[]; go?: boolean };
  if (message.go) go();
  for (const boundary of message.arm ?? []) armed.set(boundary.id, boundary);
  for (const id of message.disarm ?? []) armed.delete(id);
  for (const id of message.release ?? []) {
    armed.delete(id);
    for (const goOn of held.get(id) ?? []) goOn();
    held.delete(id);
  }
});

/** Holds the activity when it reached an armed boundary, until the driver kills the process (or releases the boundary). */
async function checkpoint(phase: BoundaryPhase, ctx: Context, input: unknown): Promise<void> {
  const facts = {
    activityType: ctx.info.activityType,
    workflowId: ctx.info.workflowExecution?.workflowId ?? '',
    input,
  };
  for (const boundary of armed.values()) {
    if (!matches(boundary, phase, facts)) continue;
    // Every attempt that gets here is held, not only the first: if the kill comes after the
    // activity's timeout, Temporal's retry (to this same process) must not slip past the boundary.
    if (!reported.has(boundary.id)) {
      reported.add(boundary.id);
      const report: PausedReport = { id: boundary.id, attempt: ctx.info.attempt, pid: process.pid };
      process.stdout.write(`${PAUSED_PREFIX}${JSON.stringify(report)}\n`);
    }
    await new Promise<void>((resolve) => held.set(boundary.id, [...(held.get(boundary.id) ?? []), resolve]));
    return;
  }
}

const activityInterceptor: ActivityInterceptorsFactory = (ctx) => ({
  inbound: {
    async execute(input, next) {
      await checkpoint('start', ctx, input.args[0]);
      const result = await next(input);
      await checkpoint('end', ctx, input.args[0]);
      return result;
    },
  },
});

main({
  activityInterceptors: [activityInterceptor],
  ...(process.env.CHAOS_WAIT_FOR_GO ? { beforeCreate: () => going } : {}),
});
