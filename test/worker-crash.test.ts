/**
 * A worker process killed with SIGKILL while a charge is at Stripe, then started again:
 * the saga resumes where it was and the retried charge reuses the first try's idempotency
 * key, so Stripe is asked for one charge and the ledger holds one payment.
 */
import type { Client, Connection } from '@temporalio/client';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { openServices, type Services } from '../services';
import { checkoutWorkflow } from '../workflows/checkout/checkout.workflow';
import { checkoutStateQuery, payUpdate } from '../workflows/contract';
import { checkoutOf } from './helpers/checkouts';
import { createTestDatabases, type TestDatabases } from './helpers/databases';
import { checkoutStartOptions } from '../temporal/checkout-client';
import { isConfirm, startStripeProxy, type StripeProxy } from '../harness/stripe-proxy';
import { testNamespace, workflowBundle } from './helpers/temporal';
import { connectClient, createClient, temporalSettingsFromEnv } from '../temporal/connection';
import { databaseUrlEnv } from '../lib/config';

jest.setTimeout(120_000);

const ROOT = path.resolve(__dirname, '..');
let dbs: TestDatabases;
let services: Services;
let recorder: StripeProxy;
let client: Client;
let connection: Connection;
const workers: ChildProcess[] = [];
let killedDuringCharge = false;

function startWorker(): Promise<ChildProcess> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...databaseUrlEnv(dbs.urls),
    // The run's bundle: a worker that bundled for itself would spend seconds of CPU on it.
    WORKFLOW_BUNDLE: workflowBundle().codePath,
    TEMPORAL_NAMESPACE: testNamespace(),
    STRIPE_API_BASE: recorder.url,
    STRIPE_SECRET_KEY: '',
  };
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'worker.ts')], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  workers.push(child);
  return new Promise((resolve, reject) => {
    let output = '';
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      if (/workers polling/.test(output)) resolve(child);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`worker exited (${code}) before polling:\n${output}`)));
  });
}

beforeAll(async () => {
  dbs = await createTestDatabases();
  recorder = await startStripeProxy({
    target: process.env.STRIPE_API_BASE!,
    intercept: (request) => {
      // The confirmation has reached "Stripe": the worker dies before it hears the answer.
      if (isConfirm(request) && !killedDuringCharge) {
        killedDuringCharge = true;
        workers[0]!.kill('SIGKILL');
        return 'reset';
      }
      return undefined;
    },
  });
  services = openServices(dbs.urls, { stripeSecretKey: undefined, stripeApiBase: recorder.url });
  const temporal = { ...temporalSettingsFromEnv(), namespace: testNamespace() };
  connection = await connectClient(temporal);
  client = createClient(connection, temporal);
});

afterAll(async () => {
  for (const worker of workers) if (worker.exitCode === null && worker.signalCode === null) worker.kill('SIGKILL');
  await connection?.close();
  await services?.close();
  await recorder?.close();
  await dbs?.dispose();
});

it('a worker killed mid-charge resumes the saga without charging twice', async () => {
  await startWorker();
  const product = await services.inventory.createProduct({
    sku: `CRASH-${randomUUID().slice(0, 8)}`,
    name: 'Crash test',
    priceCents: 900,
    available: 3,
  });
  const input = checkoutOf(product, 1, 300, 'crash');
  const { orderId, customerId } = input;
  const handle = await client.workflow.start(checkoutWorkflow, checkoutStartOptions(input));
  while ((await handle.query(checkoutStateQuery)).status !== 'AWAITING_PAYMENT')
    await new Promise((resolve) => setTimeout(resolve, 50));

  const payment = handle.executeUpdate(payUpdate, { args: [{ paymentMethod: 'pm_card_visa', customerId }] });
  await new Promise<void>((resolve) => workers[0]!.once('exit', () => resolve()));
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
