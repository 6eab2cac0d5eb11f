/** The workflows the `checkout` worker bundles. A placeholder until the saga workflows land. */

/** Proves the worker bundles and runs workflow code; deterministic, no activities. */
export async function pingWorkflow(): Promise<string> {
  return 'pong';
}
export { notificationWorkflow } from './notification.workflow';
