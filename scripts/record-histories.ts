/**
 * Records one checkout history per scenario into workflows/histories/<scenario>.json
 * (`npm run histories:record`). Each scenario runs the real workflow on a dev server this
 * script starts, with in-memory activities: a history records the workflow's decisions,
 * and those are what replay tests check. Re-record after a deliberate workflow change,
 * and keep the old files: they are the running workflows the change must still replay
 * (docs/changing-workflows.md). Before the first release nothing runs in production: every
 * history was re-recorded on the current code (`--force`), except `declined-then-paid`, which is
 * recorded on the checkout as it was before its one patch (harness/workflow-variants.ts). The
 * riskiest paths each have one: a cancel during a charge, a `processing` charge settled by its
 * webhook, declined attempts running out, the cap on kept payment events, an order adopted by a
 * second run.
 * Payloads are encrypted with the test-only key of harness/history-encryption.ts, as a
 * deployment with PAYLOAD_ENCRYPTION_KEYS stores them; the replay tests decode them with it.
 */
import {
  WorkflowUpdateStage,
  type Client,
  type WorkflowHandle,
  type WorkflowHandleWithFirstExecutionRunId,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { ERROR_CODES } from '../lib/error-codes';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { connectClient, connectWorker, createClient, temporalSettingsFromEnv } from '../temporal/connection';
import { HISTORY_TEST_ENCRYPTION_KEYS } from '../harness/history-encryption';
import { startTestInfrastructure } from '../harness/test-infrastructure';
import { waitUntil } from '../devstack/waits';
import { checkoutWorkflow } from '../workflows/checkout/checkout.workflow';
import { notificationWorkflow } from '../workflows/notification.workflow';
import { bundleVariant, VARIANTS, type WorkflowVariant } from '../harness/workflow-variants';
import { REFUND_SCENARIOS } from './refund-history-scenarios';
import { commandLineOrExit, UsageError } from '../lib/command-line';
import {
  cancelUpdate,
  checkoutStateQuery,
  notificationWorkflowId,
  notifySignal,
  MAX_DECLINED_ATTEMPTS,
  MAX_KEPT_PAYMENT_EVENTS,
  operatorActionSignal,
  orderWorkflowId,
  paymentEventSignal,
  payUpdate,
  TASK_QUEUES,
  type CheckoutInput,
  type CheckoutState,
  type OrderStatus,
} from '../workflows/contract';

const HISTORIES_DIR = path.resolve(__dirname, '..', 'workflows', 'histories');

/** Activities that succeed unless a scenario says otherwise. */
function inMemoryActivities(overrides: Record<string, (...args: never[]) => Promise<unknown>> = {}) {
  const ok = async () => ({ status: 'HELD' });
  return {
    reserveOrderQuota: async () => ({ used: 1, limit: 20, overLimit: false, crossed: [] }),
    releaseOrderQuota: async () => ({ released: true }),
    createOrder: async (input: { orderId: string }) => ({
      orderId: input.orderId,
      status: 'PENDING',
      totalCents: 2_500,
    }),
    setOrderStatus: async (input: { orderId: string; status: OrderStatus }) => ({
      orderId: input.orderId,
      status: input.status,
      totalCents: 2_500,
    }),
    reserveStock: ok,
    releaseStock: async () => ({ status: 'RELEASED' }),
    commitStock: async () => ({ status: 'COMMITTED' }),
    chargePayment: async () => ({ paymentId: 'pay_1', paymentIntentId: 'pi_1', status: 'SUCCEEDED' }),
    settleProcessingPayment: async () => undefined,
    findPayment: async () => ({ status: 'NONE', declinedAttempts: 0 }),
    refundPayment: async () => ({ action: 'refunded', paymentIntentId: 'pi_1' }),
    clearCart: async () => ({ cleared: true }),
    notifyUser: async () => ({ workflowId: 'notifications-x' }),
    persistNotification: async () => ({ id: 'n', sequence: 1, created: true }),
    ...overrides,
  };
}

type Handle = WorkflowHandle<typeof checkoutWorkflow>;

interface Scenario {
  name: string;
  ttlSeconds?: number;
  activities?: Record<string, (...args: never[]) => Promise<unknown>>;
  /** The workflow code to record with, when not the current one (a history from before a patch). */
  variant?: WorkflowVariant;
  drive(handle: Handle, input: CheckoutInput): Promise<void>;
  /** Another workflow than the checkout: starts it, drives it, and answers with the run to record. */
  other?: (client: Client) => Promise<{ workflowId: string; runId: string }>;
}

/** Waits until the workflow's state says `what` (a recording drives the workflow from what it has done). */
const until = (handle: Handle, what: string, check: (state: CheckoutState) => boolean) =>
  waitUntil(what, async () => check(await handle.query(checkoutStateQuery)), { timeoutMs: 20_000, intervalMs: 50 });

const reach = (handle: Handle, status: OrderStatus) => until(handle, status, (state) => state.status === status);

const pay = (handle: Handle, input: CheckoutInput, paymentMethod = 'pm_card_visa') =>
  handle.executeUpdate(payUpdate, { args: [{ paymentMethod, customerId: input.customerId }] });

const declineFirstAttempt = async (input: { attempt: number }) => {
  if (input.attempt === 1)
    throw ApplicationFailure.nonRetryable('Your card was declined.', 'PAYMENT_DECLINED', {
      declineCode: 'generic_decline',
    });
  return { paymentId: 'pay_1', paymentIntentId: 'pi_1', status: 'SUCCEEDED' };
};

const declineEveryAttempt = async () => {
  throw ApplicationFailure.nonRetryable('Your card was declined.', 'PAYMENT_DECLINED', {
    declineCode: 'generic_decline',
  });
};

/** Stripe answers `processing`: the webhook's verdict settles the charge later. */
const answerProcessing = async () => ({ paymentId: 'pay_1', paymentIntentId: 'pi_1', status: 'PROCESSING' });

const paymentEvent = (eventId: string, type: string) => ({ eventId, type, paymentIntentId: 'pi_1' });

/** Waits for the charge to answer `processing` (the intent is in the state), then relays `events` in order. */
async function relayOnceProcessing(handle: Handle, events: ReturnType<typeof paymentEvent>[]): Promise<void> {
  await until(handle, 'a processing charge', (state) => state.paymentIntentId === 'pi_1');
  for (const event of events) await handle.signal(paymentEventSignal, event);
}

/** Fails the recording when the workflow did not take the path the scenario is for. */
function expectState(state: CheckoutState, what: string, holds: boolean): void {
  if (!holds) throw new Error(`the run did not ${what}: ${JSON.stringify(state)}`);
}

/** The charge in flight until the scenario lets it answer; `started` settles once it runs. */
let chargeInFlight: { started: Promise<void>; begin: () => void; release: Promise<void>; open: () => void };
function holdNextCharge(): void {
  let begin!: () => void;
  let open!: () => void;
  const started = new Promise<void>((resolve) => (begin = resolve));
  const release = new Promise<void>((resolve) => (open = resolve));
  chargeInFlight = { started, begin, release, open };
}

/** Orders as the orders service records them, for the runs of one order id (the adoption scenario). */
const recordedOrders = new Map<string, { status: OrderStatus; expiresAt: string | null }>();
const recordedOrder = (orderId: string) => {
  const order = recordedOrders.get(orderId) ?? { status: 'PENDING' as const, expiresAt: null };
  return {
    orderId,
    status: order.status,
    totalCents: 2_500,
    expiresAt: order.expiresAt,
    paidBefore: false,
    failureCode: null,
    failureReason: null,
  };
};

/** The orders service as the adoption scenarios need it: the order as the first run left it. */
const ADOPTION_ACTIVITIES = {
  createOrder: async (input: { orderId: string }) => {
    if (!recordedOrders.has(input.orderId)) recordedOrders.set(input.orderId, { status: 'PENDING', expiresAt: null });
    return recordedOrder(input.orderId);
  },
  setOrderStatus: async (input: { orderId: string; status: OrderStatus; expiresAt?: string }) => {
    const expiresAt = input.expiresAt ?? recordedOrders.get(input.orderId)?.expiresAt ?? null;
    recordedOrders.set(input.orderId, { status: input.status, expiresAt });
    return { orderId: input.orderId, status: input.status, totalCents: 2_500 };
  },
};

/** Runs the order to AWAITING_PAYMENT, terminates that run and starts the second run, which adopts the order. */
async function startAdoptingRun(
  client: Client,
  input: CheckoutInput,
): Promise<WorkflowHandleWithFirstExecutionRunId<typeof checkoutWorkflow>> {
  const start = () =>
    client.workflow.start(checkoutWorkflow, {
      taskQueue: TASK_QUEUES.checkout,
      workflowId: orderWorkflowId(input.orderId),
      args: [input],
    });
  const first = await start();
  await reach(first, 'AWAITING_PAYMENT');
  await first.terminate('Stranded on purpose: a second run adopts the order');
  return start();
}

/** The customer's card is declined once, then the payment goes through: the two declined-then-paid recordings. */
async function payAfterDecline(handle: Handle, input: CheckoutInput): Promise<void> {
  await reach(handle, 'AWAITING_PAYMENT');
  await pay(handle, input, 'pm_card_chargeDeclined').catch(() => undefined);
  await pay(handle, input);
}

let releaseWorks = false;
let chargeGate: Promise<void> = Promise.resolve();

const SCENARIOS: Scenario[] = [
  {
    name: 'paid',
    drive: async (h, input) => {
      await reach(h, 'AWAITING_PAYMENT');
      await pay(h, input);
    },
  },
  { name: 'expired', ttlSeconds: 1, drive: async () => undefined },
  {
    name: 'cancelled',
    drive: async (h) => {
      await reach(h, 'AWAITING_PAYMENT');
      await h.executeUpdate(cancelUpdate, { args: [{ reason: 'changed my mind' }] });
    },
  },
  {
    name: 'workflow-cancelled',
    drive: async (h) => {
      await reach(h, 'AWAITING_PAYMENT');
      await h.cancel();
    },
  },
  {
    name: 'out-of-stock',
    activities: {
      reserveStock: async () => {
        throw ApplicationFailure.nonRetryable('Only 0 left', 'OUT_OF_STOCK');
      },
    },
    drive: async () => undefined,
  },
  {
    name: 'quota-rejected',
    activities: {
      reserveOrderQuota: async () => {
        throw ApplicationFailure.nonRetryable('20 of 20 orders used', 'QUOTA_EXCEEDED');
      },
    },
    drive: async () => undefined,
  },
  {
    // Recorded on the checkout from before the patched() change that notifies the customer of a decline.
    name: 'declined-then-paid',
    variant: VARIANTS.beforeDeclinedNotice,
    activities: { chargePayment: declineFirstAttempt as never },
    drive: payAfterDecline,
  },
  {
    // Recorded after the patched() change that notifies the customer of a decline.
    name: 'declined-then-paid-notified',
    activities: { chargePayment: declineFirstAttempt as never },
    drive: payAfterDecline,
  },
  {
    name: 'refund-after-later-failure',
    activities: {
      commitStock: async () => {
        throw ApplicationFailure.nonRetryable('The reservation was released', 'RESERVATION_RELEASED');
      },
    },
    drive: async (h, input) => {
      await reach(h, 'AWAITING_PAYMENT');
      await pay(h, input);
    },
  },
  {
    name: 'compensation-failed-operator-retry',
    ttlSeconds: 1,
    activities: {
      releaseStock: async () => {
        if (!releaseWorks)
          throw ApplicationFailure.nonRetryable('inventory database is read-only', 'STORAGE_READ_ONLY');
        return { status: 'RELEASED' };
      },
    },
    drive: async (h) => {
      releaseWorks = false;
      await reach(h, 'NEEDS_ATTENTION');
      releaseWorks = true;
      await h.signal(operatorActionSignal, { action: 'retry' });
    },
  },
  {
    name: 'compensation-failed-operator-resolve',
    ttlSeconds: 1,
    activities: {
      releaseStock: async () => {
        throw ApplicationFailure.nonRetryable('inventory database is read-only', 'STORAGE_READ_ONLY');
      },
    },
    drive: async (h) => {
      await reach(h, 'NEEDS_ATTENTION');
      await h.signal(operatorActionSignal, { action: 'resolve', note: 'released by hand' });
    },
  },
  {
    // A second run of an order id whose first run completed: it leaves the order as it is.
    name: 'rerun-of-ended-order',
    activities: {
      createOrder: async (input: { orderId: string }) => ({
        orderId: input.orderId,
        status: 'COMPLETED',
        totalCents: 2_500,
      }),
    },
    drive: async () => undefined,
  },
  {
    // The notification workflow's first run, up to its continue-as-new (a tiny history limit makes it come soon).
    name: 'notifications-continue-as-new',
    drive: async () => undefined,
    other: async (client) => {
      const workflowId = notificationWorkflowId(`history-user-${randomUUID().slice(0, 8)}`);
      const handle = await client.workflow.start(notificationWorkflow, {
        taskQueue: TASK_QUEUES.checkout,
        workflowId,
        args: [{ userId: 'history-user', maxHistoryEvents: 20 }],
      });
      const firstRunId = handle.firstExecutionRunId;
      for (let i = 0; i < 12; i++) {
        await handle.signal(notifySignal, {
          userId: 'history-user',
          kind: 'NOTIFICATION',
          type: 'quota.warning',
          payload: { i },
          dedupeKey: `key-${i % 10}`,
        });
      }
      for (let i = 0; i < 400; i++) {
        if ((await client.workflow.getHandle(workflowId, firstRunId).describe()).status.name === 'CONTINUED_AS_NEW')
          return { workflowId, runId: firstRunId };
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      throw new Error('the notification workflow never continued as new');
    },
  },
  {
    name: 'payment-racing-expiry',
    ttlSeconds: 1,
    activities: {
      chargePayment: async () => {
        await chargeGate;
        return { paymentId: 'pay_1', paymentIntentId: 'pi_1', status: 'SUCCEEDED' };
      },
    },
    drive: async (h, input) => {
      let open!: () => void;
      chargeGate = new Promise((resolve) => (open = resolve));
      await reach(h, 'AWAITING_PAYMENT');
      const payment = pay(h, input);
      setTimeout(open, 2_000); // the charge settles after the 1 s time-to-live has run out
      await payment;
    },
  },
  {
    // A cancel arrives while a charge is in flight: the charge runs to its end, then its undo refunds it.
    name: 'cancelled-during-charge',
    activities: {
      chargePayment: async () => {
        chargeInFlight.begin();
        await chargeInFlight.release;
        return { paymentId: 'pay_1', paymentIntentId: 'pi_1', status: 'SUCCEEDED' };
      },
    },
    drive: async (h, input) => {
      holdNextCharge();
      await reach(h, 'AWAITING_PAYMENT');
      const payment = pay(h, input);
      await chargeInFlight.started;
      const cancel = await h.startUpdate(cancelUpdate, {
        args: [{ reason: 'changed my mind' }],
        waitForStage: WorkflowUpdateStage.ACCEPTED,
      });
      chargeInFlight.open();
      await Promise.all([payment, cancel.result()]);
      const end = await h.result();
      expectState(
        end,
        'refund the charge and end CANCELLED',
        end.status === 'CANCELLED' && end.compensatedSteps.includes('paymentCharged'),
      );
    },
  },
  {
    // Stripe answers `processing`; an event that settles nothing (delivered twice), then the verdict pays the order.
    name: 'processing-settled-by-webhook',
    activities: { chargePayment: answerProcessing },
    drive: async (h, input) => {
      await reach(h, 'AWAITING_PAYMENT');
      const payment = pay(h, input);
      const processing = paymentEvent('evt_processing', 'payment_intent.processing');
      await relayOnceProcessing(h, [processing, processing, paymentEvent('evt_succeeded', 'payment_intent.succeeded')]);
      await payment;
      const end = await h.result();
      expectState(
        end,
        'complete on the webhook, each event kept once',
        end.status === 'COMPLETED' && end.paymentEvents?.length === 2,
      );
    },
  },
  {
    // Every card is declined: the last allowed attempt ends the order, its stock and quota given back.
    name: 'declined-attempts-exhausted',
    activities: { chargePayment: declineEveryAttempt },
    drive: async (h, input) => {
      await reach(h, 'AWAITING_PAYMENT');
      for (let attempt = 1; attempt <= MAX_DECLINED_ATTEMPTS; attempt++)
        await pay(h, input, 'pm_card_chargeDeclined').catch(() => undefined);
      const end = await h.result();
      expectState(
        end,
        `end FAILED after ${MAX_DECLINED_ATTEMPTS} declines`,
        end.status === 'FAILED' &&
          end.failure?.code === ERROR_CODES.PAYMENT_ATTEMPTS_EXHAUSTED &&
          end.declinedAttempts === MAX_DECLINED_ATTEMPTS,
      );
    },
  },
  {
    // A flood of webhook events while Stripe processes the charge: the first ones kept up to the cap, the
    // rest counted; the verdict arrives past the cap and still settles the charge.
    name: 'payment-events-capped',
    activities: { chargePayment: answerProcessing },
    drive: async (h, input) => {
      await reach(h, 'AWAITING_PAYMENT');
      const payment = pay(h, input);
      const flood = Array.from({ length: MAX_KEPT_PAYMENT_EVENTS + 1 }, (_, i) =>
        paymentEvent(`evt_${i}`, 'charge.updated'),
      );
      await relayOnceProcessing(h, [...flood, flood[0]!, paymentEvent('evt_succeeded', 'payment_intent.succeeded')]);
      await payment;
      const end = await h.result();
      expectState(
        end,
        `keep ${MAX_KEPT_PAYMENT_EVENTS} events, count 2 past the cap and complete`,
        end.status === 'COMPLETED' &&
          end.paymentEvents?.length === MAX_KEPT_PAYMENT_EVENTS &&
          end.paymentEventsBeyondCap === 2,
      );
    },
  },
  {
    // A second run of an order whose first run was terminated while it awaited payment: it adopts the order
    // (its expiresAt, its reservation), waits on and is paid. The second run is the one recorded.
    name: 'adopted-waiting-order',
    activities: ADOPTION_ACTIVITIES,
    drive: async () => undefined,
    other: async (client) => {
      const input = checkoutInput();
      const second = await startAdoptingRun(client, input);
      const { expiresAt } = recordedOrders.get(input.orderId)!;
      await until(
        second,
        'the adopted order awaiting payment',
        (state) => state.status === 'AWAITING_PAYMENT' && state.expiresAt === expiresAt,
      );
      await pay(second, input);
      const end = await second.result();
      expectState(end, 'adopt the waiting order and complete it', end.status === 'COMPLETED');
      return { workflowId: second.workflowId, runId: second.firstExecutionRunId };
    },
  },
  {
    // The same, but the first run had sent a charge whose answer it lost (the payment is PENDING) and
    // nobody pays again: the order expires and the charge is refunded or cancelled (patch undo-earlier-charges).
    name: 'adopted-order-expires-with-lost-charge',
    activities: {
      ...ADOPTION_ACTIVITIES,
      findPayment: async () => ({ status: 'PENDING', declinedAttempts: 0 }),
      refundPayment: async () => ({ action: 'canceled', paymentIntentId: 'pi_1' }),
    },
    drive: async () => undefined,
    other: async (client) => {
      const second = await startAdoptingRun(client, checkoutInput(2));
      const end = await second.result();
      expectState(
        end,
        'expire the adopted order and give its charge back',
        end.status === 'EXPIRED' && end.compensatedSteps[0] === 'paymentCharged',
      );
      return { workflowId: second.workflowId, runId: second.firstExecutionRunId };
    },
  },
  // The refund saga's: a full refund, a partial one, one Stripe refuses (scripts/refund-history-scenarios.ts).
  ...REFUND_SCENARIOS,
];

async function main(): Promise<void> {
  // Existing files are the running workflows a change must keep replaying: never overwrite
  // them unless asked (--force), and name a new scenario's file after the change it records.
  const { force, only } = commandLineOrExit(
    `npm run histories:record -- [scenario ...] [options]: records the workflow histories of the replay tier
into workflows/histories/, the named scenarios only when any are named; a scenario with a file is kept.`,
    { force: { type: 'boolean', help: 'record again over the existing files' } },
    (values, names) => {
      const unknown = names.filter((name) => !SCENARIOS.some((scenario) => scenario.name === name));
      if (unknown.length > 0)
        throw new UsageError(
          `no scenario named ${unknown.join(', ')}; the scenarios: ${SCENARIOS.map((s) => s.name).join(', ')}`,
        );
      return { force: values.force ?? false, only: names };
    },
    process.argv.slice(2),
    { positionals: true },
  );
  Runtime.install({ shutdownSignals: [], logger: new DefaultLogger('ERROR') });
  const currentBundle = await bundleWorkflowCode({
    workflowsPath: require.resolve('../workflows'),
    logger: new DefaultLogger('ERROR'),
  });
  const infrastructure = await startTestInfrastructure();
  const temporal = temporalSettingsFromEnv({
    ...infrastructure.env,
    PAYLOAD_ENCRYPTION_KEYS: HISTORY_TEST_ENCRYPTION_KEYS,
  });
  const { address, namespace } = temporal;
  const nativeConnection = await connectWorker(temporal);
  const connection = await connectClient(temporal);
  const client = createClient(connection, temporal);
  await mkdir(HISTORIES_DIR, { recursive: true });
  try {
    for (const scenario of SCENARIOS.filter((s) => only.length === 0 || only.includes(s.name))) {
      const file = path.join(HISTORIES_DIR, `${scenario.name}.json`);
      if (!force && existsSync(file)) {
        console.log(`${scenario.name}: kept ${path.relative(process.cwd(), file)} (--force to re-record)`);
        continue;
      }
      const activities = inMemoryActivities(scenario.activities);
      const workflowBundle = scenario.variant ? await bundleVariant(scenario.variant) : currentBundle;
      const workers = await Promise.all(
        Object.values(TASK_QUEUES).map((taskQueue) =>
          Worker.create({
            connection: nativeConnection,
            namespace,
            taskQueue,
            dataConverter: temporal.dataConverter,
            ...(taskQueue === TASK_QUEUES.checkout ? { workflowBundle } : { activities }),
          }),
        ),
      );
      const runs = workers.map((worker) => worker.run());
      try {
        const recorded = scenario.other ? await scenario.other(client) : await runCheckout(client, scenario);
        // The CLI writes the same JSON as the Web UI's "Download history", which replay reads.
        const { stdout } = await promisify(execFile)(
          infrastructure.env.TEMPORAL_CLI_PATH,
          [
            'workflow',
            'show',
            '--workflow-id',
            recorded.workflowId,
            '--run-id',
            recorded.runId,
            '--address',
            address,
            '--namespace',
            namespace,
            '--output',
            'json',
          ],
          { maxBuffer: 64 * 1024 * 1024 },
        );
        const events = (JSON.parse(stdout) as { events: unknown[] }).events.length;
        await writeFile(file, stdout.endsWith('\n') ? stdout : `${stdout}\n`);
        console.log(`${scenario.name}: ${events} events → ${path.relative(process.cwd(), file)}`);
      } finally {
        workers.forEach((worker) => worker.shutdown());
        await Promise.allSettled(runs);
      }
    }
  } finally {
    await connection.close();
    await nativeConnection.close();
    await infrastructure.stop();
  }
}

/** A new order of two units, 25.00 in all. */
function checkoutInput(ttlSeconds = 30): CheckoutInput {
  return {
    orderId: randomUUID(),
    customerId: 'history-customer',
    currency: 'usd',
    ttlSeconds,
    lines: [
      {
        productId: '00000000-0000-4000-8000-000000000001',
        sku: 'SKU-1',
        name: 'Sample',
        quantity: 2,
        unitPriceCents: 1_250,
      },
    ],
  };
}

async function runCheckout(client: Client, scenario: Scenario): Promise<{ workflowId: string; runId: string }> {
  const input = checkoutInput(scenario.ttlSeconds);
  const { orderId } = input;
  const handle = await client.workflow.start(checkoutWorkflow, {
    taskQueue: TASK_QUEUES.checkout,
    workflowId: orderWorkflowId(orderId),
    args: [input],
  });
  await scenario.drive(handle, input);
  await handle.result();
  return { workflowId: handle.workflowId, runId: handle.firstExecutionRunId };
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
