/** Stripe webhooks: signature over the raw body, 300 s tolerance, each event stored once and relayed to its order once. */
import { randomUUID } from 'node:crypto';
import { signStripePayload } from '../../services/payments/webhooks';
import { startApiHarness, TEST_SETTINGS, type ApiHarness } from '../../test/helpers/api';
import { newProduct } from '../../test/helpers/checkouts';

jest.setTimeout(60_000);

let api: ApiHarness;
beforeAll(async () => {
  api = await startApiHarness();
});
afterAll(async () => api?.close());

function paymentEvent(orderId: string, type = 'payment_intent.succeeded') {
  return JSON.stringify({
    id: `evt_${randomUUID().replace(/-/g, '')}`,
    object: 'event',
    type,
    created: Math.floor(Date.now() / 1000),
    data: { object: { id: `pi_${orderId.slice(0, 8)}`, object: 'payment_intent', metadata: { orderId } } },
  });
}

const deliver = (payload: string, signature?: string) =>
  api.app.inject({
    method: 'POST',
    url: '/v1/webhooks/stripe',
    payload,
    headers: { 'content-type': 'application/json', ...(signature ? { 'stripe-signature': signature } : {}) },
  });

/** The payments service's stored webhook events, as rows. */
async function storedEvents(): Promise<Record<string, unknown>[]> {
  return ((await api.snapshot())['payments.webhook_events'] ?? []).map((row) => JSON.parse(row as string));
}

async function placedOrder(): Promise<string> {
  const product = await newProduct(api.services.inventory, 'W', 1, 500);
  const response = await api.as(`hook-${randomUUID().slice(0, 6)}`, {
    method: 'POST',
    url: '/v1/orders',
    payload: { items: [{ productId: product.id, quantity: 1 }] },
  });
  expect(response.statusCode).toBe(201);
  await api.settled(response.json().id);
  return response.json().id;
}

it('stores a signed payment event once and relays it to the order; a replay changes nothing', async () => {
  const orderId = await placedOrder();
  const payload = paymentEvent(orderId);
  const eventId = JSON.parse(payload).id;

  const first = await deliver(payload, signStripePayload(payload, TEST_SETTINGS.stripeWebhookSecret));
  expect(first.statusCode).toBe(200);
  expect(first.json()).toEqual({ received: true, duplicate: false, relayed: true });
  expect((await storedEvents()).filter((row) => row.id === eventId)).toEqual([
    expect.objectContaining({ type: 'payment_intent.succeeded', order_id: orderId, processed_at: expect.any(String) }),
  ]);
  const relayed = await api.temporal.client.workflow
    .getHandle(`order-${orderId}`)
    .query<{ paymentEvents?: { eventId: string }[] }>('state');
  expect(relayed.paymentEvents?.map((e) => e.eventId)).toEqual([eventId]);

  const before = await api.snapshot();
  const replay = await deliver(payload, signStripePayload(payload, TEST_SETTINGS.stripeWebhookSecret));
  expect(replay.json()).toEqual({ received: true, duplicate: true, relayed: false });
  expect(await api.snapshot()).toEqual(before);
  const after = await api.temporal.client.workflow
    .getHandle(`order-${orderId}`)
    .query<{ paymentEvents?: unknown[] }>('state');
  expect(after.paymentEvents).toHaveLength(1);
});

it('acknowledges events it does not act on, storing them', async () => {
  const orderId = await placedOrder();
  const payload = paymentEvent(orderId, 'charge.updated');
  const before = await storedEvents();
  const response = await deliver(payload, signStripePayload(payload, TEST_SETTINGS.stripeWebhookSecret));
  expect(response.json()).toEqual({ received: true, duplicate: false, relayed: false });
  const added = (await storedEvents()).filter((row) => !before.some((seen) => seen.id === row.id));
  expect(added).toEqual([
    expect.objectContaining({
      id: JSON.parse(payload).id,
      type: 'charge.updated',
      order_id: orderId,
      processed_at: expect.any(String),
    }),
  ]);
});

describe('refuses with 400 INVALID_SIGNATURE and changes nothing', () => {
  const cases: [string, (payload: string) => string | undefined][] = [
    ['no signature', () => undefined],
    ['another secret', (payload) => signStripePayload(payload, 'whsec_someone_else')],
    [
      'a signature of another body',
      (payload) => signStripePayload(payload.replace('succeeded', 'payment_failed'), TEST_SETTINGS.stripeWebhookSecret),
    ],
    [
      'a stale signature (older than 300 s)',
      (payload) => signStripePayload(payload, TEST_SETTINGS.stripeWebhookSecret, Math.floor(Date.now() / 1000) - 301),
    ],
    ['garbage', () => 't=1,v1=deadbeef'],
  ];
  it.each(cases)('%s', async (_name, sign) => {
    const orderId = await placedOrder();
    const payload = paymentEvent(orderId);
    const before = await api.snapshot();
    const response = await deliver(payload, sign(payload));
    expect([response.statusCode, response.json().error.code]).toEqual([400, 'INVALID_SIGNATURE']);
    expect(await api.snapshot()).toEqual(before);
  });
});

describe("the body: Stripe's event envelope", () => {
  it('is documented as the request body, required, with the signature header', async () => {
    const document = (await api.app.inject({ method: 'GET', url: '/docs/json' })).json();
    const operation = document.paths['/v1/webhooks/stripe'].post;
    const schema = operation.requestBody.content['application/json'].schema;
    expect(operation.requestBody.required).toBe(true);
    expect(schema.required).toEqual(expect.arrayContaining(['id', 'type', 'data']));
    expect(schema.properties.data.required).toEqual(['object']);
    expect(operation.parameters).toEqual(
      expect.arrayContaining([expect.objectContaining({ in: 'header', name: 'stripe-signature' })]),
    );
  });

  it('refuses a signed body that is no event with 400, and changes nothing', async () => {
    const payload = JSON.stringify({ id: `evt_${randomUUID().replace(/-/g, '')}`, type: 'payment_intent.succeeded' });
    const before = await api.snapshot();
    const response = await api.app.inject({
      method: 'POST',
      url: '/v1/webhooks/stripe',
      payload,
      headers: {
        'content-type': 'application/json',
        'stripe-signature': signStripePayload(payload, TEST_SETTINGS.stripeWebhookSecret),
      },
      contract: 'invalid',
    });
    expect([response.statusCode, response.json().error.code]).toEqual([400, 'VALIDATION_FAILED']);
    expect(await api.snapshot()).toEqual(before);
  });

  it('refuses a signed event carrying text PostgreSQL cannot store with 400 UNSTORABLE_TEXT, and changes nothing', async () => {
    const orderId = await placedOrder();
    const event = JSON.parse(paymentEvent(orderId));
    event.data.object.description = 'a\u0000b';
    const payload = JSON.stringify(event);
    const before = await api.snapshot();
    const response = await deliver(payload, signStripePayload(payload, TEST_SETTINGS.stripeWebhookSecret));
    expect([response.statusCode, response.json().error.code]).toEqual([400, 'UNSTORABLE_TEXT']);
    expect(await api.snapshot()).toEqual(before);
  });
});
