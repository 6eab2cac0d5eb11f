/**
 * The workflows the `checkout` worker bundles, and how each follows a new worker version
 * (used only when the worker runs versioned; docs/changing-workflows.md):
 * - a checkout ends within its time-to-live (or waits for an operator), so it stays PINNED to the
 *   version that started it and an incompatible change needs no patch;
 * - a user's notification workflow never ends (it continues as new), so it AUTO_UPGRADEs to the
 *   current version at its next task, and a change to it still ships as a patch.
 */
import { setWorkflowOptions } from '@temporalio/workflow';
import { checkoutWorkflow } from './checkout.workflow';
import { notificationWorkflow } from './notification.workflow';

setWorkflowOptions({ versioningBehavior: 'PINNED' }, checkoutWorkflow);
setWorkflowOptions({ versioningBehavior: 'AUTO_UPGRADE' }, notificationWorkflow);

export { checkoutWorkflow, notificationWorkflow };
