import { randomUUID } from 'node:crypto';
import { DomainError } from '../../lib/errors';
import { useServiceDatabase } from '../../test/helpers/databases';
import { rejectionOf } from '../../test/helpers/rejections';
import {
  INSUFFICIENT_FUNDS,
  isConfirm,
  startStripeProxy,
  type RecordedRequest,
  type StripeProxy,
  type StripeProxyOptions,
} from '../../harness/stripe-proxy';
import { stripeDouble } from '../../harness/stripe-double';
import { createPaymentsDb, type PaymentsDb } from './db';
import { PaymentsService, idempotencyKeys, type ChargeInput } from './payments.service';
import { createStripeGateway } from './stripe-client';

const database = useServiceDatabase('payments', createPaymentsDb);
let db: PaymentsDb;
const recorders: StripeProxy[] = [];

function stripeMockBase(): string {
  const base = process.env.STRIPE_API_BASE;
  if (!base)
    throw new Error('STRIPE_API_BASE is not set: run the tests through Jest (test/global-setup.ts starts stripe-mock)');
  return base;
}

beforeAll(async () => {
  db = database.db;
});

afterAll(async () => {
  await Promise.all(recorders.map((r) => r.close()));
});

/** A payments service whose Stripe traffic goes through a fresh recorder in front of stripe-mock. */
async function paymentsVia(
  intercept?: StripeProxyOptions['intercept'],
): Promise<{ payments: PaymentsService; recorder: StripeProxy }> {
  const recorder = await startStripeProxy({ target: stripeMockBase(), intercept });
  recorders.push(recorder);
  const gateway = createStripeGateway(
    { stripeSecretKey: undefined, stripeApiBase: recorder.url },
    { timeoutMs: 5_000, maxNetworkRetries: 0 },
  );
  return { payments: new PaymentsService(db, gateway), recorder };
}

/** A payments service in real mode (not stripe-mock's stateless one), talking to the Stripe double through a recorder. */
async function paymentsAgainstStripe(confirm?: Parameters<typeof stripeDouble>[0]) {
  const double = stripeDouble(confirm);
  const recorder = await startStripeProxy({ target: stripeMockBase(), intercept: double.intercept });
  recorders.push(recorder);
  const gateway = createStripeGateway(
    { stripeSecretKey: 'sk_test_123', stripeApiBase: stripeMockBase(), stripeLikeApiBase: recorder.url },
    { timeoutMs: 5_000, maxNetworkRetries: 0 },
  );
  expect(gateway.stateless).toBe(false);
  return { payments: new PaymentsService(db, gateway), recorder, double };
}

function chargeInput(extra: Partial<ChargeInput> = {}): ChargeInput {
  return {
    orderId: randomUUID(),
    amountCents: 4499,
    currency: 'usd',
    paymentMethod: 'pm_card_visa',
    attempt: 1,
    ...extra,
  };
}

const summary = (requests: RecordedRequest[]) =>
  requests.map((r) => `${r.method} ${r.path.replace(/pi_[A-Za-z0-9]+/, 'pi_*')} ${r.idempotencyKey ?? '-'}`);

test('charge creates one payment, confirms its intent once, and records the attempt', async () => {
  const { payments, recorder } = await paymentsVia();
  const input = chargeInput();

  const result = await payments.charge(input);
  expect(result.status).toBe('SUCCEEDED');
  expect(result.paymentIntentId).toMatch(/^pi_/);

  const rows = await db.payment.findMany({ where: { orderId: input.orderId } });
  expect(rows).toHaveLength(1);
  expect(rows[0]).toMatchObject({
    id: result.paymentId,
    status: 'SUCCEEDED',
    amountCents: 4499,
    currency: 'usd',
    stripePaymentIntentId: result.paymentIntentId,
  });
  expect(await payments.get(input.orderId)).toEqual({
    orderId: input.orderId,
    status: 'SUCCEEDED',
    amountCents: 4499,
    currency: 'usd',
    paymentIntentId: result.paymentIntentId,
    attempts: [{ attempt: 1, outcome: 'SUCCEEDED', declineCode: null }],
    refunded: false,
  });

  expect(summary(recorder.requests)).toEqual([
    `POST /v1/payment_intents ${idempotencyKeys.intent(input.orderId)}`,
    `POST /v1/payment_intents/pi_*/confirm ${idempotencyKeys.confirm(input.orderId, 1)}`,
  ]);
  expect(recorder.requests[0]!.body).toContain('amount=4499');
  expect(recorder.requests[0]!.body).toContain(`metadata[orderId]=${input.orderId}`);
  expect(recorder.requests[1]!.path).toBe(`/v1/payment_intents/${result.paymentIntentId}/confirm`);
  expect(recorder.requests[1]!.body).toContain('payment_method=pm_card_visa');
});

test('a second charge of a paid order charges nothing new', async () => {
  const { payments, recorder } = await paymentsVia();
  const input = chargeInput();
  const first = await payments.charge(input);
  const sentForFirst = recorder.requests.length;

  // The same attempt retried, a later attempt with another card, and several at once.
  expect(await payments.charge(input)).toEqual(first);
  expect(await payments.charge({ ...input, attempt: 2, paymentMethod: 'pm_card_mastercard' })).toEqual(first);
  const concurrent = await Promise.all(Array.from({ length: 4 }, () => payments.charge(input)));
  for (const c of concurrent) expect(c).toEqual(first);

  expect(recorder.requests).toHaveLength(sentForFirst);
  expect(recorder.requests.filter(isConfirm)).toHaveLength(1);
  expect(await db.payment.count({ where: { orderId: input.orderId } })).toBe(1);
  expect((await payments.get(input.orderId))?.attempts).toEqual([
    { attempt: 1, outcome: 'SUCCEEDED', declineCode: null },
  ]);
});

test('refundOrCancel after a successful charge refunds once and is idempotent', async () => {
  const { payments, recorder } = await paymentsVia();
  const input = chargeInput();
  const charged = await payments.charge(input);
  recorder.requests.length = 0;

  expect(await payments.refundOrCancel(input.orderId)).toEqual({
    action: 'refunded',
    paymentIntentId: charged.paymentIntentId,
  });
  expect(summary(recorder.requests)).toEqual([`POST /v1/refunds ${idempotencyKeys.refund(input.orderId)}`]);
  expect(recorder.requests[0]!.body).toContain(`payment_intent=${charged.paymentIntentId}`);

  const refunds = await db.refund.findMany({ where: { paymentId: charged.paymentId } });
  expect(refunds).toHaveLength(1);
  expect(refunds[0]).toMatchObject({ amountCents: 4499, reason: 'requested_by_customer' });
  expect(refunds[0]!.stripeRefundId).toMatch(/^re_/);
  expect(await payments.get(input.orderId)).toMatchObject({ status: 'REFUNDED', refunded: true });

  // Compensation retried (also concurrently): no second refund request, no second row.
  const again = await Promise.all([payments.refundOrCancel(input.orderId), payments.refundOrCancel(input.orderId)]);
  for (const a of again) expect(a).toEqual({ action: 'refunded', paymentIntentId: charged.paymentIntentId });
  expect(recorder.requests).toHaveLength(1);
  expect(await db.refund.count({ where: { paymentId: charged.paymentId } })).toBe(1);

  // A refunded order cannot be charged again.
  const error = await rejectionOf(payments.charge({ ...input, attempt: 2 }));
  expect(error).toBeInstanceOf(DomainError);
  expect((error as DomainError).code).toBe('ORDER_NOT_PAYABLE');
  expect(recorder.requests).toHaveLength(1);
});

test('refundOrCancel of an order without a payment is a no-op', async () => {
  const { payments, recorder } = await paymentsVia();
  const orderId = randomUUID();
  expect(await payments.refundOrCancel(orderId)).toEqual({ action: 'none' });
  expect(await payments.refundOrCancel(orderId)).toEqual({ action: 'none' });
  expect(recorder.requests).toEqual([]);
  expect(await payments.get(orderId)).toBeNull();
  expect(await db.payment.count({ where: { orderId } })).toBe(0);
});

test('a declined card is PAYMENT_DECLINED with its decline code; the payment stays payable and a next attempt succeeds', async () => {
  const declining = await paymentsVia((r) => (isConfirm(r) ? INSUFFICIENT_FUNDS : undefined));
  const input = chargeInput({ paymentMethod: 'pm_card_visa_chargeDeclinedInsufficientFunds' });

  const error = await rejectionOf(declining.payments.charge(input));
  expect(error).toBeInstanceOf(DomainError);
  expect(error).toMatchObject({
    code: 'PAYMENT_DECLINED',
    message: 'Your card has insufficient funds.',
    details: { declineCode: 'insufficient_funds' },
  });

  const declined = await declining.payments.get(input.orderId);
  expect(declined).toMatchObject({
    status: 'PENDING',
    attempts: [{ attempt: 1, outcome: 'DECLINED', declineCode: 'insufficient_funds' }],
    refunded: false,
  });
  const attemptRow = await db.paymentAttempt.findFirstOrThrow({
    where: { payment: { orderId: input.orderId }, attempt: 1 },
  });
  expect(attemptRow).toMatchObject({
    paymentMethod: 'pm_card_visa_chargeDeclinedInsufficientFunds',
    failureMessage: 'Your card has insufficient funds.',
  });
  const intentId = declined!.paymentIntentId!;
  expect(intentId).toMatch(/^pi_/);

  // Attempt 2 with another card, against a Stripe that accepts it: the same intent is confirmed again.
  const accepting = await paymentsVia();
  const paid = await accepting.payments.charge({ ...input, attempt: 2, paymentMethod: 'pm_card_visa' });
  expect(paid).toMatchObject({ status: 'SUCCEEDED', paymentIntentId: intentId });
  expect(await accepting.payments.get(input.orderId)).toMatchObject({
    status: 'SUCCEEDED',
    attempts: [
      { attempt: 1, outcome: 'DECLINED', declineCode: 'insufficient_funds' },
      { attempt: 2, outcome: 'SUCCEEDED', declineCode: null },
    ],
  });
  expect(summary(accepting.recorder.requests)).toEqual([
    'GET /v1/payment_intents/pi_* -', // looked up, never created a second time
    `POST /v1/payment_intents/pi_*/confirm ${idempotencyKeys.confirm(input.orderId, 2)}`,
  ]);
  expect(await db.payment.count({ where: { orderId: input.orderId } })).toBe(1);
});

test('refundOrCancel of a payment that never succeeded cancels its intent, once', async () => {
  const declining = await paymentsVia((r) => (isConfirm(r) ? INSUFFICIENT_FUNDS : undefined));
  const input = chargeInput();
  await rejectionOf(declining.payments.charge(input));
  const intentId = (await declining.payments.get(input.orderId))!.paymentIntentId;

  const { payments, recorder } = await paymentsVia();
  expect(await payments.refundOrCancel(input.orderId)).toEqual({ action: 'canceled', paymentIntentId: intentId });
  expect(summary(recorder.requests)).toEqual([
    `POST /v1/payment_intents/pi_*/cancel ${idempotencyKeys.cancel(input.orderId)}`,
  ]);
  expect(recorder.requests[0]!.path).toBe(`/v1/payment_intents/${intentId}/cancel`);
  expect(await payments.get(input.orderId)).toMatchObject({ status: 'CANCELED', refunded: false });
  expect(await db.refund.findFirst({ where: { payment: { orderId: input.orderId } } })).toBeNull();

  expect(await payments.refundOrCancel(input.orderId)).toEqual({ action: 'canceled', paymentIntentId: intentId });
  expect(recorder.requests).toHaveLength(1);

  // The expired order's payment stays cancelled: a late payment is refused, nothing is sent.
  const late = await rejectionOf(payments.charge({ ...input, attempt: 2 }));
  expect(late).toMatchObject({ code: 'ORDER_NOT_PAYABLE' });
  expect(recorder.requests).toHaveLength(1);
});

test('a single connection reset is retried by the Stripe SDK itself under the same idempotency key', async () => {
  let confirms = 0;
  const { payments, recorder } = await paymentsVia((r) => (isConfirm(r) && ++confirms === 1 ? 'reset' : undefined));
  const input = chargeInput();

  expect((await payments.charge(input)).status).toBe('SUCCEEDED');
  const confirmsSent = recorder.requests.filter(isConfirm);
  expect(confirmsSent).toHaveLength(2);
  expect(confirmsSent.map((r) => r.idempotencyKey)).toEqual([
    idempotencyKeys.confirm(input.orderId, 1),
    idempotencyKeys.confirm(input.orderId, 1),
  ]);
  expect(confirmsSent[0]!.path).toBe(confirmsSent[1]!.path);
});

test('an unknown outcome (connection reset on confirm) is retryable, and the retry reuses the same idempotency key', async () => {
  // Resets every confirm until the charge has failed once, however often the SDK retries on its own.
  let losing = true;
  const { payments, recorder } = await paymentsVia((r) => (isConfirm(r) && losing ? 'reset' : undefined));
  const input = chargeInput();

  const lost = await rejectionOf(payments.charge(input));
  losing = false;
  expect(lost).toBeInstanceOf(Error);
  expect(lost).not.toBeInstanceOf(DomainError);
  expect(await payments.get(input.orderId)).toMatchObject({
    status: 'PENDING',
    attempts: [{ attempt: 1, outcome: null, declineCode: null }],
  });
  const lostConfirms = recorder.requests.filter(isConfirm).length;
  expect(lostConfirms).toBeGreaterThanOrEqual(1);

  // The activity's retry: the same attempt, so the same key; Stripe would replay its first answer.
  const retried = await payments.charge(input);
  expect(retried.status).toBe('SUCCEEDED');
  expect(await payments.get(input.orderId)).toMatchObject({
    status: 'SUCCEEDED',
    attempts: [{ attempt: 1, outcome: 'SUCCEEDED' }],
  });

  const confirmKey = `POST /v1/payment_intents/pi_*/confirm ${idempotencyKeys.confirm(input.orderId, 1)}`;
  expect(summary(recorder.requests)).toEqual([
    `POST /v1/payment_intents ${idempotencyKeys.intent(input.orderId)}`,
    ...Array.from({ length: lostConfirms }, () => confirmKey),
    'GET /v1/payment_intents/pi_* -', // the retry looks the intent up before confirming again
    confirmKey,
  ]);
  // Every try of one attempt carries one key and targets one intent; no POST goes without a key.
  const confirmsSent = recorder.requests.filter(isConfirm);
  expect(new Set(confirmsSent.map((r) => r.idempotencyKey)).size).toBe(1);
  expect(new Set(confirmsSent.map((r) => r.path))).toEqual(
    new Set([`/v1/payment_intents/${retried.paymentIntentId}/confirm`]),
  );
  for (const r of recorder.requests.filter((q) => q.method === 'POST'))
    expect(r.idempotencyKey).toMatch(new RegExp(`^order:${input.orderId}:`));
  expect(await db.payment.count({ where: { orderId: input.orderId } })).toBe(1);
});

test('an unknown outcome on creating the intent retries under the same key and creates one payment', async () => {
  let losing = true;
  const isCreate = (r: RecordedRequest) => r.method === 'POST' && r.path === '/v1/payment_intents';
  const { payments, recorder } = await paymentsVia((r) => (isCreate(r) && losing ? 'reset' : undefined));
  const input = chargeInput();

  const lost = await rejectionOf(payments.charge(input));
  losing = false;
  expect(lost).not.toBeInstanceOf(DomainError);
  expect(await payments.get(input.orderId)).toMatchObject({ status: 'PENDING', paymentIntentId: null, attempts: [] });
  const lostCreates = recorder.requests.length;

  expect((await payments.charge(input)).status).toBe('SUCCEEDED');
  const createsSent = recorder.requests.filter(isCreate);
  expect(createsSent).toHaveLength(lostCreates + 1);
  for (const r of createsSent) expect(r.idempotencyKey).toBe(idempotencyKeys.intent(input.orderId));
  expect(recorder.requests.filter(isConfirm)).toHaveLength(1);
  expect(await db.payment.count({ where: { orderId: input.orderId } })).toBe(1);
});

test('idempotency keys are derived from the order (and attempt), distinct per operation', () => {
  const orderId = '7d3c1c7e-0000-4000-8000-000000000001';
  const keys = [
    idempotencyKeys.intent(orderId),
    idempotencyKeys.confirm(orderId, 1),
    idempotencyKeys.confirm(orderId, 2),
    idempotencyKeys.refund(orderId),
    idempotencyKeys.cancel(orderId),
  ];
  expect(new Set(keys).size).toBe(keys.length);
  for (const key of keys) expect(key).toContain(orderId);
  expect(idempotencyKeys.confirm(orderId, 1)).toBe(idempotencyKeys.confirm(orderId, 1));
});

test('a webhook event is stored once, also when delivered concurrently', async () => {
  const { payments } = await paymentsVia();
  const orderId = randomUUID();
  const event = {
    id: `evt_${randomUUID()}`,
    type: 'payment_intent.succeeded',
    orderId,
    payload: { id: 'evt', data: { object: { id: 'pi_1' } } },
  };
  expect(await payments.recordWebhookEvent(event)).toBe(true);
  expect(await payments.recordWebhookEvent(event)).toBe(false);

  const other = { ...event, id: `evt_${randomUUID()}`, orderId: undefined };
  const raced = await Promise.all(Array.from({ length: 5 }, () => payments.recordWebhookEvent(other)));
  expect(raced.filter(Boolean)).toHaveLength(1);

  const stored = await db.webhookEvent.findUniqueOrThrow({ where: { id: event.id } });
  expect(stored).toMatchObject({
    type: 'payment_intent.succeeded',
    orderId,
    payload: event.payload,
    processedAt: null,
  });
  expect(await db.webhookEvent.count({ where: { id: { in: [event.id, other.id] } } })).toBe(2);
  expect((await db.webhookEvent.findUniqueOrThrow({ where: { id: other.id } })).orderId).toBeNull();
});

test('getForOrders reads several orders’ payments in one call, as get reads each', async () => {
  const { payments } = await paymentsVia();
  const charged = chargeInput();
  const refunded = chargeInput();
  await payments.charge(charged);
  await payments.charge(refunded);
  await payments.refundOrCancel(refunded.orderId);
  const unknown = chargeInput().orderId;

  const found = await payments.getForOrders([charged.orderId, refunded.orderId, unknown]);
  expect([...found.keys()].sort()).toEqual([charged.orderId, refunded.orderId].sort());
  expect(found.get(charged.orderId)).toEqual(await payments.get(charged.orderId));
  expect(found.get(refunded.orderId)).toEqual(await payments.get(refunded.orderId));
  expect(found.get(refunded.orderId)).toMatchObject({ status: 'REFUNDED', refunded: true });
});

describe('against Stripe itself (real mode, the Stripe double)', () => {
  test('an intent that already succeeded (the answer was lost) is found by the retry: one confirm, no second charge', async () => {
    const { payments, recorder } = await paymentsAgainstStripe(() => 'succeeded-but-lost');
    const input = chargeInput();
    // The answer is lost; whether the SDK's own retry got Stripe's stored answer or the activity retries, it is one charge.
    await payments.charge(input).catch(() => undefined);
    const retried = await payments.charge(input);
    expect(retried).toMatchObject({ status: 'SUCCEEDED' });
    expect(new Set(recorder.requests.filter(isConfirm).map((r) => r.idempotencyKey))).toEqual(
      new Set([idempotencyKeys.confirm(input.orderId, 1)]),
    );
    expect(await payments.get(input.orderId)).toMatchObject({
      status: 'SUCCEEDED',
      attempts: [{ attempt: 1, outcome: 'SUCCEEDED' }],
    });
  });

  test('requires_action cannot be completed server-side: PAYMENT_DECLINED, the order stays payable', async () => {
    const { payments, recorder } = await paymentsAgainstStripe(() => 'requires_action');
    const input = chargeInput();
    expect(await rejectionOf(payments.charge(input))).toMatchObject({
      code: 'PAYMENT_DECLINED',
      details: { declineCode: 'requires_action' },
    });
    expect(recorder.requests.filter(isConfirm)).toHaveLength(1);
    expect(await payments.get(input.orderId)).toMatchObject({
      status: 'PENDING',
      attempts: [{ attempt: 1, outcome: 'DECLINED', declineCode: 'requires_action' }],
    });
  });

  test('processing is not paid: cancel is refused while Stripe processes it, and once it succeeds the undo refunds rather than cancels', async () => {
    const { payments, recorder, double } = await paymentsAgainstStripe(() => 'processing');
    const input = chargeInput();
    expect(await payments.charge(input)).toMatchObject({ status: 'PROCESSING' });
    expect(await payments.get(input.orderId)).toMatchObject({ status: 'PENDING' });
    // Still processing: Stripe refuses the cancel with payment_intent_unexpected_state, which is not "already cancelled".
    await expect(payments.refundOrCancel(input.orderId)).rejects.toThrow(/processing/);
    expect(await payments.get(input.orderId)).toMatchObject({ status: 'PENDING' });

    for (const intent of double.intents.values()) intent.status = 'succeeded';
    expect(await payments.refundOrCancel(input.orderId)).toMatchObject({ action: 'refunded' });
    expect(await payments.get(input.orderId)).toMatchObject({ status: 'REFUNDED', refunded: true });
    expect(recorder.requests.filter(isConfirm)).toHaveLength(1);
    expect(recorder.requests.filter((r) => r.path === '/v1/refunds')).toHaveLength(1);
  });

  test('payment_intent_unexpected_state on cancel for an intent that succeeded meanwhile: refunded, not taken as cancelled', async () => {
    const { payments, recorder, double } = await paymentsAgainstStripe(() => 'processing');
    const input = chargeInput();
    await payments.charge(input);
    // Between the undo's look-up and its cancel, Stripe settles the payment.
    for (const intent of double.intents.values()) intent.status = 'requires_payment_method';
    double.onRequest = (request) => {
      if (request.path.endsWith('/cancel')) for (const intent of double.intents.values()) intent.status = 'succeeded';
    };
    recorder.requests.length = 0;
    expect(await payments.refundOrCancel(input.orderId)).toMatchObject({ action: 'refunded' });
    expect(recorder.requests.map((r) => `${r.method} ${r.path.replace(/pi_[A-Za-z0-9]+/, 'pi_*')}`)).toEqual([
      'GET /v1/payment_intents/pi_*',
      'POST /v1/payment_intents/pi_*/cancel',
      'GET /v1/payment_intents/pi_*',
      'POST /v1/refunds',
    ]);
    expect(await payments.get(input.orderId)).toMatchObject({ status: 'REFUNDED', refunded: true });
  });

  test('a settled processing payment is recorded by settleProcessing, once', async () => {
    const { payments } = await paymentsAgainstStripe(() => 'processing');
    const input = chargeInput();
    await payments.charge(input);
    await payments.settleProcessing({ orderId: input.orderId, attempt: 1, outcome: 'succeeded' });
    await payments.settleProcessing({ orderId: input.orderId, attempt: 1, outcome: 'failed' });
    expect(await payments.get(input.orderId)).toMatchObject({
      status: 'SUCCEEDED',
      attempts: [{ attempt: 1, outcome: 'SUCCEEDED' }],
    });
  });

  test('an unusable payment method is its own code at once, not a retry and not a decline', async () => {
    const { payments, recorder } = await paymentsAgainstStripe(() => ({
      status: 400,
      body: {
        error: {
          type: 'invalid_request_error',
          code: 'resource_missing',
          param: 'payment_method',
          message: "No such PaymentMethod: 'pm_gone'",
        },
      },
    }));
    const input = chargeInput({ paymentMethod: 'pm_gone' });
    expect(await rejectionOf(payments.charge(input))).toMatchObject({ code: 'PAYMENT_METHOD_UNUSABLE' });
    expect(recorder.requests.filter(isConfirm)).toHaveLength(1);
  });

  test('a Stripe 5xx is not a refusal: the charge fails retryably', async () => {
    const { payments } = await paymentsAgainstStripe(() => ({
      status: 500,
      body: { error: { type: 'api_error', message: 'Stripe is down' } },
    }));
    const error = await rejectionOf(payments.charge(chargeInput()));
    expect(error).not.toBeInstanceOf(DomainError);
  });
});
