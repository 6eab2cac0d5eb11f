/**
 * The throughput benchmark's baseline: the checkout saga's shape with every activity a no-op.
 * Same task queues, activity options, updates, timer and search-attribute upserts as
 * checkoutWorkflow's happy path (12 activities: 5 before payment, 1 charge, 6 after), so that
 * the ratio real/baseline measures what the real activities (databases, Stripe, notification
 * workflows) cost on top of Temporal's own orchestration.
 */
import {
  allHandlersFinished,
  CancellationScope,
  condition,
  setHandler,
  sleep,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import {
  CUSTOMER_ID_KEY,
  ORDER_STATUS_KEY,
  payUpdate,
  placedUpdate,
  type CheckoutInput,
  type CheckoutState,
  type OrderStatus,
  type PayInput,
} from '../../workflows/contract';
import { noop, pendingCheckout } from './noop-shape';

export async function baselineCheckoutWorkflow(input: CheckoutInput): Promise<CheckoutState> {
  const state = pendingCheckout(input);
  let charging = false;
  let paid = false;
  let timeUp = false;
  const settled = () => state.status === 'COMPLETED' || state.status === 'EXPIRED';

  setHandler(placedUpdate, async () => {
    await condition(() => state.status !== 'PENDING');
    return state;
  });
  setHandler(
    payUpdate,
    async (_pay: PayInput) => {
      charging = true;
      try {
        await noop.payments({ step: 'chargePayment', orderId: input.orderId });
        paid = true;
      } finally {
        charging = false;
      }
      await condition(settled);
      return state;
    },
    {
      validator: (_pay: PayInput) => {
        if (state.status !== 'AWAITING_PAYMENT' || charging || paid || timeUp)
          throw new Error('The order is not payable');
      },
    },
  );

  async function setStatus(status: OrderStatus): Promise<void> {
    await noop.orders({ step: 'setOrderStatus', orderId: input.orderId });
    state.status = status;
    upsertSearchAttributes([{ key: ORDER_STATUS_KEY, value: status }]);
    await noop.notifications({ step: 'notifyUser', orderId: input.orderId });
  }

  upsertSearchAttributes([
    { key: ORDER_STATUS_KEY, value: state.status },
    { key: CUSTOMER_ID_KEY, value: input.customerId },
  ]);
  await noop.quota({ step: 'reserveOrderQuota', orderId: input.orderId });
  await noop.orders({ step: 'createOrder', orderId: input.orderId });
  await noop.inventory({ step: 'reserveStock', orderId: input.orderId });
  state.expiresAt = new Date(Date.now() + input.ttlSeconds * 1000).toISOString();
  await setStatus('AWAITING_PAYMENT');

  const timer = CancellationScope.cancellable(async () => {
    await sleep(input.ttlSeconds * 1000);
    timeUp = true;
  });
  timer.catch(() => undefined);
  await condition(() => !charging && (paid || timeUp));
  if (!paid) {
    state.status = 'EXPIRED';
    await condition(allHandlersFinished);
    return state;
  }
  await noop.inventory({ step: 'commitStock', orderId: input.orderId });
  await setStatus('PAID');
  await noop.cart({ step: 'clearCart', orderId: input.orderId });
  await setStatus('COMPLETED');
  await condition(allHandlersFinished);
  return state;
}
