/**
 * The workflows the `checkout` worker bundles, and how each follows a new worker version when the
 * worker runs versioned (docs/changing-workflows.md):
 * - a checkout ends within its time-to-live (or waits for an operator), so it stays PINNED to the
 *   version that started it and an incompatible change needs no patch;
 * - a user's notification workflow never ends (it continues as new), so it AUTO_UPGRADEs to the
 *   current version at its next task, and a change to it still ships as a patch;
 * - a reconciler run lasts a minute at most, so it stays PINNED like a checkout;
 * - a refund ends once Stripe has answered and its steps are done, so it stays PINNED too.
 */
import { setWorkflowOptions, workflowInfo } from '@temporalio/workflow';
import type { VersioningBehavior, WorkflowDefinitionOptions } from '@temporalio/common';
import { checkoutWorkflow } from './checkout/checkout.workflow';
import { notificationWorkflow } from './notification.workflow';
import { reconcilerWorkflow } from './reconciler.workflow';
import { refundWorkflow } from './refund/refund.workflow';

/** Server 1.29 fails every workflow task of an unversioned worker that reports a behaviour, so only a versioned one does. */
const whenVersioned = (versioningBehavior: VersioningBehavior) => (): WorkflowDefinitionOptions =>
  workflowInfo().currentDeploymentVersion?.deploymentName ? { versioningBehavior } : {};

setWorkflowOptions(whenVersioned('PINNED'), checkoutWorkflow);
setWorkflowOptions(whenVersioned('AUTO_UPGRADE'), notificationWorkflow);
setWorkflowOptions(whenVersioned('PINNED'), reconcilerWorkflow);
setWorkflowOptions(whenVersioned('PINNED'), refundWorkflow);

export { checkoutWorkflow, notificationWorkflow, reconcilerWorkflow, refundWorkflow };
