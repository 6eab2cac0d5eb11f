/** The workflows the `checkout` worker bundles. */
export { checkoutWorkflow } from './checkout.workflow';
export { notificationWorkflow } from './notification.workflow';
export { reconcilerWorkflow } from './reconciler.workflow';
