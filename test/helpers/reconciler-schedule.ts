/** What the reconciler's Schedule must say, wherever a test finds it (made by the API's start or by a worker). */
import { ScheduleOverlapPolicy, type ScheduleDescription } from '@temporalio/client';

/** Asserts the Schedule starts reconcilerWorkflow on the checkout queue every `intervalSeconds`, skipping a run while one is still going. */
export function expectReconcilerSchedule(described: ScheduleDescription, intervalSeconds: number): void {
  expect(described.spec.intervals).toEqual([expect.objectContaining({ every: intervalSeconds * 1_000 })]);
  expect(described.policies.overlap).toBe(ScheduleOverlapPolicy.SKIP);
  expect(described.action).toMatchObject({
    type: 'startWorkflow',
    workflowType: 'reconcilerWorkflow',
    taskQueue: 'checkout',
  });
}
