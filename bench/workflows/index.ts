/** The bench worker's workflow bundle: the real workflows plus the throughput baseline. */
export { checkoutWorkflow, notificationWorkflow } from '../../workflows';
export { baselineCheckoutWorkflow } from './baseline.workflow';
export { floorWorkflow } from './floor.workflow';
export { placementShapeWorkflow } from './placement-shape.workflow';
