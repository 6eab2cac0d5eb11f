/**
 * A worker process killed with SIGKILL while a charge is at Stripe, then started again:
 * the saga resumes where it was and the retried charge reuses the first try's idempotency
 * key, so Stripe is asked for one charge and the ledger holds one payment.
 */
import type { Client, Connection } from '@temporalio/client';
import type { Services } from '../services';
import { checkoutWorkflow } from '../workflows/checkout/checkout.workflow';
import { payUpdate } from '../workflows/contract';
import { checkoutOf, newProduct, reach } from './helpers/checkouts';
import { createTestDatabases, type TestDatabases } from './helpers/databases';
import { startProgram, testProcessEnv, type ServiceProcess } from './helpers/service-process';
import { testServices } from './helpers/test-bed';
import { checkoutStartOptions } from '../temporal/checkout-client';
import { isConfirm, startStripeProxy, type StripeProxy } from '../harness/stripe-proxy';
import { testNamespace } from './helpers/temporal';
import { connectClient, createClient, temporalSettingsFromEnv } from '../temporal/connection';

jest.setTimeout(120_000);

let dbs: TestDatabases;
let services: Services;
let recorder: StripeProxy;
let client: Client;
let connection: Connection;
const workers: ServiceProcess[] = [];
let killedDuringCharge = false;

async function startWorker(): Promise<void> {
  const worker = startProgram('worker', 'tsx', testProcessEnv(dbs.urls, { STRIPE_API_BASE: recorder.url }));
  workers.push(worker);
  await worker.waitForOutput('workers polling', 90_000);
}

beforeAll(async () => {
  dbs = await createTestDatabases();
  recorder = await startStripeProxy({
    target: process.env.STRIPE_API_BASE!,
    intercept: (request) => {
      // The confirmation has reached "Stripe": the worker dies before it hears the answer.
      if (isConfirm(request) && !killedDuringCharge) {
        killedDuringCharge = true;
        workers[0]!.child.kill('SIGKILL');
        return 'reset';
      }
      return undefined;
    },
  });
  services = testServices(dbs, recorder.url);
  const temporal = { ...temporalSettingsFromEnv(), namespace: testNamespace() };
  connection = await connectClient(temporal);
  client = createClient(connection, temporal);
});

afterAll(async () => {
  for (const { child } of workers) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await connection?.close();
  await services?.close();
  await recorder?.close();
  await dbs?.dispose();
});

it('a worker killed mid-charge resumes the saga without charging twice', async () => {
  await startWorker();
  const product = await newProduct(services.inventory, 'CRASH', 3, 900);
  const input = checkoutOf(product, 1, 300, 'crash');
  const { orderId, customerId } = input;
  const handle = await client.workflow.start(checkoutWorkflow, checkoutStartOptions(input));
  await reach(handle, 'AWAITING_PAYMENT');

  const payment = handle.executeUpdate(payUpdate, { args: [{ paymentMethod: 'pm_card_visa', customerId }] });
  await workers[0]!.exited;
  expect(killedDuringCharge).toBe(true);
  await startWorker();

  const outcome = await payment;
  expect(outcome.status).toBe('PAID');
  expect((await handle.result()).status).toBe('COMPLETED');
  const confirms = recorder.requests.filter(isConfirm);
  expect(confirms.length).toBeGreaterThanOrEqual(2);
  expect(new Set(confirms.map((request) => request.idempotencyKey))).toEqual(new Set([`order:${orderId}:confirm:1`]));
  const ledger = await services.payments.get(orderId);
  expect(ledger).toMatchObject({ status: 'SUCCEEDED', refunded: false });
  expect(ledger!.attempts).toHaveLength(1);
  expect(await services.orders.get(orderId)).toMatchObject({ status: 'COMPLETED' });
  expect(await services.inventory.getProduct(product.id)).toMatchObject({ available: 2 });
});
