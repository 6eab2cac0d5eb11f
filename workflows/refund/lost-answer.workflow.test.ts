/**
 * A refund whose answer is lost after Stripe made it: the refund saga on a real Temporal dev server,
 * its Stripe calls through the recording proxy to the Stripe double (which keeps refunds and lists
 * them, as Stripe does). Stripe refunds, the connection is reset before its answer arrives, the
 * activity fails and Temporal retries it: the retry looks the refund up at Stripe by its id in the
 * metadata and settles it from there; nothing is sent to Stripe a second time.
 */
import { randomUUID } from 'node:crypto';
import { CheckoutClient } from '../../temporal/checkout-client';
import { RefundClient, requestRefund } from '../../temporal/refund-client';
import { checkoutOf, newProduct } from '../../test/helpers/checkouts';
import type { Services } from '../../services';
import type { TestDatabases } from '../../test/helpers/databases';
import type { RunningWorkers, TestTemporal } from '../../test/helpers/temporal';
import { closeTestBed, openTestBed, startWorkersReplacing } from '../../test/helpers/test-bed';
import { createRefundPaymentsActivities } from '../../activities/refunds.activities';
import { RefundsService } from '../../services/payments/refunds.service';
import { createStripeGateway } from '../../services/payments/stripe-client';
import { createPaymentsDb } from '../../services/payments/db';
import { startStripeProxy, type StripeProxy } from '../../harness/stripe-proxy';
import { stripeDouble } from '../../harness/stripe-double';
import { waitUntil } from '../../devstack/waits';

jest.setTimeout(90_000);

const double = stripeDouble();
let dbs: TestDatabases;
let services: Services;
let temporal: TestTemporal;
let workers: RunningWorkers | undefined;
let stripe: StripeProxy;
let paymentsDb: ReturnType<typeof createPaymentsDb>;
let refundPosts = 0;

beforeAll(async () => {
  ({ dbs, services, temporal } = await openTestBed());
  stripe = await startStripeProxy({
    target: process.env.STRIPE_API_BASE!,
    // The Stripe SDK sends a request whose connection was reset once more at once: that try's
    // answer is lost too, so the activity fails and Temporal retries it.
    intercept: (request, index) =>
      request.method === 'POST' && request.path === '/v1/refunds' && ++refundPosts === 2
        ? 'reset'
        : double.intercept(request, index),
  });
  paymentsDb = createPaymentsDb(dbs.urls.payments);
  // The checkout charges through stripe-mock; the refund saga's Stripe calls go to the double,
  // with the payments service in its real-Stripe mode (it looks a refund up before sending it).
  const refunds = new RefundsService(
    paymentsDb,
    createStripeGateway({ stripeSecretKey: undefined, stripeApiBase: stripe.url, stripeLikeApiBase: stripe.url }),
  );
  workers = await startWorkersReplacing(
    { services, temporal },
    { payments: createRefundPaymentsActivities({ refunds }) },
  );
});

afterAll(async () => {
  await workers?.stop();
  await paymentsDb?.$disconnect();
  await stripe?.close();
  await closeTestBed({ temporal, services, dbs });
});

/** A completed order of 2 units at 15.00, its PaymentIntent known to the double as succeeded. */
async function completedOrder() {
  const product = await newProduct(services.inventory, 'RLA', 10, 1_500);
  const input = checkoutOf(product, 2, 60, `lost-answer-${randomUUID().slice(0, 8)}`);
  const checkout = new CheckoutClient(temporal.client, { deadlineMs: 60_000 });
  await checkout.place(input);
  await checkout.pay(input.orderId, input.customerId, 'pm_card_visa');
  await waitUntil(
    'the order to complete',
    async () => (await services.orders.get(input.orderId))?.status === 'COMPLETED',
    { timeoutMs: 30_000, intervalMs: 50 },
  );
  const intentId = (await services.payments.get(input.orderId))!.paymentIntentId!;
  double.intents.set(intentId, {
    id: intentId,
    object: 'payment_intent',
    status: 'succeeded',
    amount: 3_000,
    currency: 'usd',
    metadata: { orderId: input.orderId },
  });
  return { orderId: input.orderId, intentId };
}

it('looks a refund whose answer was lost up at Stripe on the retry, and never sends it again', async () => {
  const { orderId, intentId } = await completedOrder();
  // Stripe makes the first refund asked of it and the connection is reset before its answer.
  double.refundOutcome = (_refund, index) => (index === 0 ? 'succeeded-but-lost' : 'succeeded');
  const { refund } = await requestRefund(
    {
      orders: services.orders,
      refunds: services.refunds,
      client: new RefundClient(temporal.client, { deadlineMs: 60_000 }),
    },
    {
      orderId,
      idempotencyKey: randomUUID(),
      amountCents: 1_000,
      reason: 'late delivery',
      restock: false,
      requestedBy: 'admin-1',
    },
  );
  expect(refund.status).toBe('SUCCEEDED');

  // One refund at Stripe, and the store's refund is that one.
  expect(double.refunds.filter((r) => r.payment_intent === intentId)).toEqual([
    expect.objectContaining({
      amount: 1_000,
      status: 'succeeded',
      metadata: expect.objectContaining({ refundId: refund.id }),
    }),
  ]);
  expect((await services.refunds.get(refund.id))!.stripeRefundId).toBe(double.refunds[0]!.id);
  // Looked up (nothing yet), sent (answer lost, and lost again on the SDK's own retry under the same
  // key), then on the activity's retry looked up again and found: nothing more was sent.
  const calls = stripe.requests.filter((r) => r.path === '/v1/refunds').map((r) => `${r.method} ${r.status ?? 'lost'}`);
  expect(calls).toEqual(['GET 200', 'POST lost', 'POST lost', 'GET 200']);
  const keys = new Set(stripe.requests.filter((r) => r.method === 'POST').map((r) => r.idempotencyKey));
  expect(keys).toEqual(new Set([`refund:${refund.id}`]));

  // The retry was Temporal's: the refund activity ran twice in the saga's history.
  const saga = temporal.client.workflow.getHandle(`refund-${refund.id}`);
  await saga.result();
  const history = await saga.fetchHistory();
  const attempts = (history.events ?? [])
    .filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'refundAtStripe')
    .map((e) => e.eventId);
  expect(attempts).toHaveLength(1);
  const started = (history.events ?? []).find(
    (e) =>
      e.activityTaskStartedEventAttributes &&
      String(e.activityTaskStartedEventAttributes.scheduledEventId) === String(attempts[0]),
  );
  expect(started?.activityTaskStartedEventAttributes?.attempt).toBe(2);
  expect(await services.orders.get(orderId)).toMatchObject({ status: 'PARTIALLY_REFUNDED', refundedCents: 1_000 });
});
