/**
 * The placement's own floor: the checkout's placement shape with every activity a no-op. Started
 * by update-with-start like the saga; three no-op activities side by side (on the quota, orders
 * and inventory queues, as the saga counts the quota, records the order and reserves the stock),
 * then one on the orders queue (the AWAITING_PAYMENT status write), and the `placed` update
 * answers, as the saga's does, once the status has left PENDING. The saga's placement p50 over
 * this one's is `placement_shape_ratio`: what the real activities and the saga's own code add to
 * the same hops.
 */
import { allHandlersFinished, condition, setHandler, upsertSearchAttributes } from '@temporalio/workflow';
import {
  CUSTOMER_ID_KEY,
  ORDER_STATUS_KEY,
  placedUpdate,
  type CheckoutInput,
  type CheckoutState,
} from '../../workflows/contract';
import { noop, pendingCheckout } from './noop-shape';

export async function placementShapeWorkflow(input: CheckoutInput): Promise<CheckoutState> {
  const state = pendingCheckout(input);
  setHandler(placedUpdate, async () => {
    await condition(() => state.status !== 'PENDING');
    return state;
  });
  upsertSearchAttributes([
    { key: ORDER_STATUS_KEY, value: state.status },
    { key: CUSTOMER_ID_KEY, value: input.customerId },
  ]);
  const step = (name: string) => ({ step: name, orderId: input.orderId });
  await Promise.all([
    noop.quota(step('reserveOrderQuota')),
    noop.orders(step('createOrder')),
    noop.inventory(step('reserveStock')),
  ]);
  state.expiresAt = new Date(Date.now() + input.ttlSeconds * 1000).toISOString();
  await noop.orders(step('setOrderStatus'));
  state.status = 'AWAITING_PAYMENT';
  upsertSearchAttributes([{ key: ORDER_STATUS_KEY, value: state.status }]);
  await condition(allHandlersFinished);
  return state;
}
