/**
 * Payload encryption end to end on the test dev server: a checkout run by workers and a client
 * that share PAYLOAD_ENCRYPTION_KEYS completes as usual, and the history the server stores,
 * fetched raw (no codec), holds the customer id, the order lines and the amounts only as
 * ciphertext. The one place the customer id stays readable is the CustomerId search attribute,
 * by design: visibility must index it for operators' queries (docs/production-temporal.md).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { CheckoutClient } from './checkout-client';
import { connectClient, temporalSettingsFromEnv } from './connection';
import { ENCRYPTED_ENCODING } from './payload-codec';
import { showOrder } from '../ops/orders';
import type { Services } from '../services';
import { CUSTOMER_ID_KEY, orderWorkflowId, type CheckoutInput, type CheckoutState } from '../workflows/contract';
import type { TestDatabases } from '../test/helpers/databases';
import { testNamespace, type TestTemporal } from '../test/helpers/temporal';
import { closeTestBed, openTestBed, startWorkersReplacing } from '../test/helpers/test-bed';
import { temporal as proto } from '@temporalio/proto';

jest.setTimeout(120_000);

const KEYS = `test-2026:${randomBytes(32).toString('base64')}`;
let dbs: TestDatabases;
let services: Services;
let temporal: TestTemporal;

beforeAll(async () => {
  const settings = {
    ...temporalSettingsFromEnv({ ...process.env, PAYLOAD_ENCRYPTION_KEYS: KEYS }),
    namespace: testNamespace(),
  };
  ({ dbs, services, temporal } = await openTestBed({ temporal: { settings } }));
  await startWorkersReplacing({ services, temporal });
});

afterAll(() => closeTestBed({ temporal, services, dbs }));

it('keeps customer ids, lines and amounts out of the history the server stores', async () => {
  const sku = `ENC-${randomUUID().slice(0, 8)}`;
  const product = await services.inventory.createProduct({
    sku,
    name: 'Encrypted mug',
    priceCents: 1_234,
    available: 3,
  });
  const customerId = `secret-customer-${randomUUID().slice(0, 8)}`;
  const input: CheckoutInput = {
    orderId: randomUUID(),
    customerId,
    currency: 'usd',
    ttlSeconds: 300,
    lines: [{ productId: product.id, sku, name: product.name, quantity: 2, unitPriceCents: 1_234 }],
  };
  const checkout = new CheckoutClient(temporal.client, { deadlineMs: 60_000 });
  expect((await checkout.place(input)).status).toBe('AWAITING_PAYMENT');
  await checkout.pay(input.orderId, customerId, 'pm_card_visa');
  const handle = temporal.client.workflow.getHandle(orderWorkflowId(input.orderId));
  // Read through the codec, the order is whole.
  expect(((await handle.result()) as CheckoutState).status).toBe('COMPLETED');
  expect((await handle.describe()).memo).toMatchObject({ customerId, totalCents: 2_468 });
  // And as an operator with the keys sees it (npm run ops -- show).
  const shown = await showOrder(temporal.client, input.orderId);
  expect(shown.summary).toContain(customerId);
  expect(shown.steps.map((step) => step.summary)).toContain(`Reserve 2 × ${sku}`);

  // The server's own copy, fetched by a client without the codec.
  const raw = await connectClient(temporalSettingsFromEnv({ TEMPORAL_ADDRESS: process.env.TEMPORAL_ADDRESS }));
  try {
    const { history } = await raw.workflowService.getWorkflowExecutionHistory({
      namespace: temporal.namespace,
      execution: { workflowId: orderWorkflowId(input.orderId) },
    });
    const events = history!.events!;
    expect(events.length).toBeGreaterThan(20);
    // The CustomerId search attribute is indexed in clear on purpose; everything else is checked byte for byte.
    const withoutSearchAttributes = events.map((event) => {
      const copy = proto.api.history.v1.HistoryEvent.fromObject(
        proto.api.history.v1.HistoryEvent.toObject(event as proto.api.history.v1.HistoryEvent),
      );
      for (const attributes of [
        copy.workflowExecutionStartedEventAttributes,
        copy.upsertWorkflowSearchAttributesEventAttributes,
      ]) {
        if (attributes?.searchAttributes?.indexedFields)
          delete attributes.searchAttributes.indexedFields[CUSTOMER_ID_KEY.name];
      }
      return Buffer.from(proto.api.history.v1.HistoryEvent.encode(copy).finish());
    });
    const leaks = (needle: string) =>
      withoutSearchAttributes
        .map((bytes, index) => (bytes.includes(needle) ? events[index]!.eventType : undefined))
        .filter(Boolean);
    expect(leaks(customerId)).toEqual([]);
    expect(leaks(sku)).toEqual([]);
    expect(leaks('Encrypted mug')).toEqual([]);
    expect(leaks('2468')).toEqual([]);
    // The workflow's input is there, as ciphertext under the key id.
    const started = events[0]!.workflowExecutionStartedEventAttributes!;
    expect(Buffer.from(started.input!.payloads![0]!.metadata!.encoding!).toString()).toBe(ENCRYPTED_ENCODING);
  } finally {
    await raw.close();
  }
});
