/**
 * The standing reconciler, started by its Temporal Schedule (reconciler/schedule.ts): one
 * activity that checks the invariants and records what it found. A workflow rather than a cron
 * job so that its runs, failures and retries are visible to operators beside the orders.
 */
import { proxyActivities } from '@temporalio/workflow';
import { ACTIVITY_OPTIONS } from './activity-options';
import type { ReconcilerInput, ReconciliationResult } from './contract';
import type { ReconcilerActivities } from '../reconciler/reconciler.activities';

const { runReconciliation } = proxyActivities<ReconcilerActivities>(ACTIVITY_OPTIONS.reconciler);

export async function reconcilerWorkflow(input: ReconcilerInput = {}): Promise<ReconciliationResult> {
  return runReconciliation(input);
}
