/**
 * The checkout on a real Temporal cluster (harness/temporal-cluster.ts): the server's four
 * services as separate processes on PostgreSQL, mTLS on the frontend, the workers and clients
 * connected through the one connection factory. A paid and an expired checkout; a client
 * without a certificate refused; the OrderStatus/CustomerId queries answered by SQL visibility;
 * and the history service SIGKILLed while a charge is in flight, restarted, and the saga finishing
 * with its invariants holding.
 */
import { Client as PgClient } from 'pg';
import { CheckoutClient } from '../temporal/checkout-client';
import { listOrders, prepareNamespace } from '../ops/orders';
import { startTemporalCluster, FRONTEND_SERVER_NAME, type TemporalCluster } from '../harness/temporal-cluster';
import { waitUntil } from '../devstack/waits';
import type { Services } from '../services';
import { ALLOWED_TRANSITIONS } from '../services/orders/order-status';
import { orderWorkflowId, type CheckoutState } from '../workflows/contract';
import { createTestDatabases, type TestDatabases } from './helpers/databases';
import { connectTestTemporal, type TestTemporal } from './helpers/temporal';
import { closeTestBed, realActivities, startWorkersReplacing, testServices } from './helpers/test-bed';
import { connectClient, temporalSettingsFromEnv } from '../temporal/connection';
import { checkoutOf, newProduct } from './helpers/checkouts';
import type { ProductView } from '../services/inventory/inventory.service';
import { startStripeProxy, type StripeProxy } from '../harness/stripe-proxy';
import { DomainError } from '../lib/errors';

// The first run on a machine builds the server and its schema tool from the Go module proxy (minutes; see docs/production-temporal.md).
jest.setTimeout(120_000);
const FIRST_BUILD_TIMEOUT_MS = 40 * 60_000;

let cluster: TemporalCluster;
let dbs: TestDatabases;
let services: Services;
let temporal: TestTemporal;
let checkout: CheckoutClient;
/** Every request the payments service sends to Stripe (stripe-mock cannot tell a charge made twice). */
let stripe: StripeProxy;

/** Lets the test hold a charge in flight: each call waits for `release` once it has told `started`. */
const chargeGate = {
  held: false,
  started: [] as string[],
  release: () => undefined as void,
  released: Promise.resolve(),
  hold() {
    this.held = true;
    this.released = new Promise<void>((resolve) => (this.release = () => resolve()));
  },
};

beforeAll(async () => {
  [cluster, dbs, stripe] = await Promise.all([
    startTemporalCluster({ namespace: 'storefront-cluster-test' }),
    createTestDatabases(),
    startStripeProxy({ target: process.env.STRIPE_API_BASE! }),
  ]);
  services = testServices(dbs, stripe.url);
  temporal = await connectTestTemporal({ settings: cluster.settings() });
  const charge = realActivities({ services, temporal }, 'payments').chargePayment!;
  await startWorkersReplacing(
    { services, temporal },
    {
      payments: {
        chargePayment: async (input: { orderId: string }) => {
          if (chargeGate.held) {
            chargeGate.started.push(input.orderId);
            await chargeGate.released;
          }
          return charge(input);
        },
      },
    },
  );
  checkout = new CheckoutClient(temporal.client, { deadlineMs: 60_000 });
}, FIRST_BUILD_TIMEOUT_MS);

afterAll(async () => {
  await closeTestBed({ temporal, services, dbs });
  await cluster?.stop();
  await stripe?.close();
});

const newProductOf = (available: number) => newProduct(services.inventory, 'CLU', available, 2_000);
const checkoutInput = (product: ProductView, quantity: number, ttlSeconds: number) =>
  checkoutOf(product, quantity, ttlSeconds, 'cluster');

function result(orderId: string): Promise<CheckoutState> {
  return temporal.client.workflow.getHandle(orderWorkflowId(orderId)).result() as Promise<CheckoutState>;
}

/** Every status change the orders database recorded is one the status machine allows. */
async function expectLawfulHistory(orderId: string): Promise<void> {
  const order = await services.orders.get(orderId);
  for (const change of order!.history) {
    if (change.from) expect(ALLOWED_TRANSITIONS[change.from]).toContain(change.to);
  }
}

describe('checkout on a Temporal cluster over mTLS', () => {
  it('takes a paid order to COMPLETED', async () => {
    const product = await newProductOf(5);
    const input = checkoutInput(product, 2, 300);

    expect((await checkout.place(input)).status).toBe('AWAITING_PAYMENT');
    expect((await checkout.pay(input.orderId, input.customerId, 'pm_card_visa')).status).toMatch(/^(PAID|COMPLETED)$/);

    expect((await result(input.orderId)).status).toBe('COMPLETED');
    expect((await services.orders.get(input.orderId))!.status).toBe('COMPLETED');
    expect(await services.payments.get(input.orderId)).toMatchObject({ amountCents: 4_000, refunded: false });
    expect((await services.inventory.getProduct(product.id))!.available).toBe(3);
    await expectLawfulHistory(input.orderId);
  });

  it('expires an unpaid order on its durable timer and gives the stock back', async () => {
    const product = await newProductOf(4);
    const input = checkoutInput(product, 3, 2);

    expect((await checkout.place(input)).status).toBe('AWAITING_PAYMENT');
    expect((await services.inventory.getProduct(product.id))!.available).toBe(1);

    expect((await result(input.orderId)).status).toBe('EXPIRED');
    expect((await services.inventory.getProduct(product.id))!.available).toBe(4);
    expect(await services.payments.get(input.orderId)).toBeNull();
    await expectLawfulHistory(input.orderId);
  });

  it('finds the namespace prepared on a second prepare-namespace, and changes nothing', async () => {
    expect(await prepareNamespace(temporal.client.connection, cluster.namespace, { timeoutMs: 10_000 })).toEqual({
      created: false,
      added: [],
    });
  });

  it('refuses a client without a certificate from the cluster CA', async () => {
    // TLS with the right CA and server name, but no client certificate: the handshake is refused.
    const withoutCertificate = temporalSettingsFromEnv({
      TEMPORAL_ADDRESS: cluster.address,
      TEMPORAL_TLS_CA_PATH: cluster.certificates.caCert,
      TEMPORAL_TLS_SERVER_NAME: FRONTEND_SERVER_NAME,
    });
    await expect(connectClient(withoutCertificate, { connectTimeout: 5_000 })).rejects.toThrow();
    // Nor does plaintext get through.
    await expect(
      connectClient(temporalSettingsFromEnv({ TEMPORAL_ADDRESS: cluster.address }), { connectTimeout: 5_000 }),
    ).rejects.toThrow();
  });

  it('answers OrderStatus and CustomerId queries from SQL visibility', async () => {
    const product = await newProductOf(2);
    const input = checkoutInput(product, 1, 300);
    await checkout.place(input);

    let found: Awaited<ReturnType<typeof listOrders>> = [];
    await waitUntil(
      'the order in visibility as AWAITING_PAYMENT',
      async () =>
        (found = await listOrders(temporal.client, { status: 'AWAITING_PAYMENT', customerId: input.customerId }))
          .length === 1,
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    expect(found[0]).toMatchObject({
      orderId: input.orderId,
      status: 'AWAITING_PAYMENT',
      customerId: input.customerId,
    });

    // The row the query was answered from, in the cluster's own visibility database.
    const visibility = new PgClient({ connectionString: cluster.visibilityDatabaseUrl });
    await visibility.connect();
    try {
      const rows = await visibility.query<{ workflow_id: string }>(
        'SELECT workflow_id FROM executions_visibility WHERE workflow_id = $1',
        [orderWorkflowId(input.orderId)],
      );
      expect(rows.rows).toHaveLength(1);
    } finally {
      await visibility.end();
    }

    await checkout.cancel(input.orderId);
    await waitUntil(
      'the order in visibility as CANCELLED',
      async () =>
        (await listOrders(temporal.client, { status: 'CANCELLED', customerId: input.customerId })).length === 1,
      { timeoutMs: 30_000, intervalMs: 250 },
    );
  });

  it('finishes a saga whose history service was SIGKILLed while its charge was in flight', async () => {
    const product = await newProductOf(3);
    const input = checkoutInput(product, 1, 300);
    expect((await checkout.place(input)).status).toBe('AWAITING_PAYMENT');

    chargeGate.hold();
    // The payment's answer may be lost with the history service (503, try again); it is never a refusal.
    const payment = checkout.pay(input.orderId, input.customerId, 'pm_card_visa').then(
      (state) => state.status,
      (error: Error) => (error instanceof DomainError ? error.code : error.message),
    );
    await waitUntil('the charge to start', async () => chargeGate.started.includes(input.orderId), {
      timeoutMs: 30_000,
    });

    await cluster.kill('history');
    await cluster.restart('history');
    chargeGate.held = false;
    chargeGate.release();

    expect((await result(input.orderId)).status).toBe('COMPLETED');
    expect(['PAID', 'COMPLETED', 'TEMPORAL_UNAVAILABLE']).toContain(await payment);
    // Charged once: every request that reached Stripe for this order's charge carried one key per
    // step (a retried charge is deduplicated by Stripe), and one confirmation succeeded.
    const sent = stripe.requests.filter((r) => r.orderId === input.orderId);
    const keysOf = (kind: string) => [...new Set(sent.filter((r) => r.kind === kind).map((r) => r.idempotencyKey))];
    expect(keysOf('createIntent')).toHaveLength(1);
    expect(keysOf('confirm')).toEqual([expect.stringContaining(input.orderId)]);
    expect(sent.filter((r) => r.kind === 'confirm' && r.status === 200).length).toBeGreaterThanOrEqual(1);
    expect(sent.filter((r) => r.kind === 'refund' || r.kind === 'cancel')).toEqual([]);
    // For the order's total; the stock sold once; every status change lawful.
    const paymentRow = await services.payments.get(input.orderId);
    expect(paymentRow).toMatchObject({ amountCents: 2_000, refunded: false });
    expect(paymentRow!.paymentIntentId).toMatch(/^pi_/);
    expect((await services.inventory.getProduct(product.id))!.available).toBe(2);
    expect((await services.inventory.findReservation(input.orderId))!.status).toBe('COMMITTED');
    expect((await services.orders.get(input.orderId))!.status).toBe('COMPLETED');
    await expectLawfulHistory(input.orderId);
  });
});
