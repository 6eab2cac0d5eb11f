/**
 * The benchmarks' worker process: the worker process itself (worker/process.ts, what
 * `worker.ts` runs), with the benchmark's workflow bundle (the real workflows and the floor's
 * baseline), a no-op activity on every service queue, and the worker settings of BENCH_WORKER_TUNING.
 * With BENCH_ACTIVITY_PROFILE_DIR set (the `activities` benchmark), it also counts each activity
 * type's CPU, statements and round trips to PostgreSQL (bench/lib/activity-profile.ts).
 */
import { main } from '../worker/process';
import type { WorkerTuning } from '../worker/workers';
import { ACTIVITY_PROFILE_ENV, installActivityProfile } from './lib/activity-profile';
import { createNoopActivities } from './lib/noop-activities';
import { TUNING_ENV } from './lib/tuning';

// The bench stack's WORKFLOW_BUNDLE holds the bench workflows: without it the floor's baseline workflow would be missing.
if (!process.env.WORKFLOW_BUNDLE) throw new Error('WORKFLOW_BUNDLE must name the bench workflows, bundled');
const profileDir = process.env[ACTIVITY_PROFILE_ENV];
main({
  extraActivities: createNoopActivities(),
  tuning: JSON.parse(process.env[TUNING_ENV] ?? '{}') as WorkerTuning,
  ...(profileDir ? { activityInterceptors: [installActivityProfile(profileDir)] } : {}),
});
