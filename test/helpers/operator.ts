/**
 * The operator tier's bench (*.operator.test.ts): the API harness with the Stripe double behind the
 * recording proxy (every charge counted), and the operator's own tools run as they are typed: the
 * real Temporal CLI, `npm run ops`, and a PostgreSQL session holding a lock to keep a step in flight.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { Client as PgClient } from 'pg';
import { databaseUrlEnv } from '../../lib/config';
import { waitUntil } from '../../devstack/waits';
import { ensureTool } from '../../devstack/tools';
import { isConfirm, startStripeProxy, type StripeProxy } from '../../harness/stripe-proxy';
import { stripeDouble } from '../../harness/stripe-double';
import { orderWorkflowId, type CheckoutState } from '../../workflows/contract';
import { startApiHarness, TEST_SETTINGS, type ApiHarness } from './api';
import { namespaceOfItsOwn } from './temporal';

const ROOT = path.resolve(__dirname, '../..');

export interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function run(command: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

export interface PlacedOrder {
  customer: string;
  order: { id: string; status: string; expiresAt: string };
}

/** A history event as `temporal workflow show --output json` prints it (the fields the tier reads). */
export interface HistoryEvent {
  eventId: string;
  eventType: string;
  activityTaskScheduledEventAttributes?: { activityType?: { name?: string } };
}

export interface OperatorBench {
  api: ApiHarness;
  /** Every request the payments service sent to "Stripe" (the double), answered or not. */
  stripe: StripeProxy;
  /** `temporal workflow <args>` against the bench's namespace, failing the test on a non-zero exit. */
  temporalWorkflow(...args: string[]): Promise<string>;
  /** The same, answering how it ended: for what an operator may be refused. */
  tryTemporalWorkflow(...args: string[]): Promise<Ran>;
  /** `npm run ops -- <args>` against the bench's databases and namespace. */
  ops(...args: string[]): Promise<Ran>;
  /** `npm run ops -- reconcile --grace-seconds 0`: every order counts, however young. */
  reconcile(): Promise<Ran>;
  newProduct(available: number): Promise<{ id: string }>;
  /** A customer places an order of three units through the API. */
  placeOrder(productId: string, app?: ApiHarness['app']): Promise<PlacedOrder>;
  pay(customer: string, orderId: string): ReturnType<ApiHarness['as']>;
  orderOf(customer: string, orderId: string): Promise<{ status: string; expiresAt: string }>;
  stockOf(productId: string): Promise<{ available: number; reserved: number; sold: number }>;
  ordersUsed(customer: string): Promise<number>;
  /** Confirmations of the order's PaymentIntent that reached Stripe: each one a charge. */
  confirmsOf(orderId: string): number;
  runOf(orderId: string): Promise<{ runId: string; status: string }>;
  /** The checkout's state query (of its running or last run). */
  stateOf(orderId: string): Promise<CheckoutState>;
  closed(orderId: string): Promise<void>;
  /** The order's history as `temporal workflow show --output json` prints it. */
  historyOf(orderId: string): Promise<HistoryEvent[]>;
}

/**
 * Starts the bench before the file's tests and closes it after them. `orderTtlSeconds` is how long
 * the harness's orders wait for payment (and a recovery run's, through `ops repair`); `ownNamespace`
 * runs it in a namespace of the file's own rather than its Jest worker's.
 */
export function useOperatorBench(orderTtlSeconds: number, options: { ownNamespace?: boolean } = {}): OperatorBench {
  let api: ApiHarness | undefined;
  let stripe: StripeProxy | undefined;
  let temporalCli = '';
  beforeAll(async () => {
    const double = stripeDouble();
    stripe = await startStripeProxy({ target: process.env.STRIPE_API_BASE!, intercept: double.intercept });
    const temporal = options.ownNamespace ? { settings: await namespaceOfItsOwn('operator') } : undefined;
    [api, temporalCli] = await Promise.all([
      startApiHarness({
        stripeLikeApiBase: stripe.url,
        app: { settings: { ...TEST_SETTINGS, orderTtlSeconds } },
        ...(temporal ? { temporal } : {}),
      }),
      ensureTool('temporal'),
    ]);
  });
  afterAll(async () => {
    await api?.close();
    await stripe?.close();
  });
  const harness = (): ApiHarness => {
    if (!api) throw new Error('The operator bench starts in beforeAll; use it inside a hook or test');
    return api;
  };

  const tryTemporalWorkflow = (...args: string[]) =>
    run(temporalCli, [
      'workflow',
      ...args,
      '--address',
      process.env.TEMPORAL_ADDRESS!,
      '--namespace',
      harness().temporal.namespace,
    ]);
  const temporalWorkflow = async (...args: string[]) => {
    const ran = await tryTemporalWorkflow(...args);
    if (ran.code !== 0) throw new Error(`temporal workflow ${args.join(' ')} exited ${ran.code}: ${ran.stderr}`);
    return ran.stdout;
  };
  const ops = (...args: string[]) =>
    run('npm', ['run', '--silent', 'ops', '--', ...args], {
      ...process.env,
      ...databaseUrlEnv(harness().dbs.urls),
      TEMPORAL_NAMESPACE: harness().temporal.namespace,
      STRIPE_SECRET_KEY: '',
      ORDER_TTL_SECONDS: String(orderTtlSeconds),
    });
  const runOf = async (orderId: string) => {
    const description = await harness().temporal.client.workflow.getHandle(orderWorkflowId(orderId)).describe();
    return { runId: description.runId, status: description.status.name };
  };

  return {
    get api() {
      return harness();
    },
    get stripe() {
      if (!stripe) throw new Error('The operator bench starts in beforeAll');
      return stripe;
    },
    temporalWorkflow,
    tryTemporalWorkflow,
    ops,
    reconcile: () => ops('reconcile', '--grace-seconds', '0'),
    async newProduct(available) {
      const sku = `OPS-${randomUUID().slice(0, 8)}`;
      return harness().services.inventory.createProduct({ sku, name: `Product ${sku}`, priceCents: 1_200, available });
    },
    async placeOrder(productId, app = harness().app) {
      const customer = `operator-tier-${randomUUID().slice(0, 8)}`;
      const placed = await app.inject({
        method: 'POST',
        url: '/v1/orders',
        headers: { authorization: `Bearer ${harness().token(customer)}` },
        payload: { items: [{ productId, quantity: 3 }] },
      });
      expect(placed.statusCode).toBe(201);
      return { customer, order: placed.json() };
    },
    pay: (customer, orderId) =>
      harness().as(customer, {
        method: 'POST',
        url: `/v1/orders/${orderId}/payment`,
        payload: { paymentMethod: 'pm_card_visa' },
      }),
    orderOf: async (customer, orderId) =>
      (await harness().as(customer, { method: 'GET', url: `/v1/orders/${orderId}` })).json(),
    async stockOf(productId) {
      const client = new PgClient({ connectionString: harness().dbs.urls.inventory });
      await client.connect();
      try {
        const { rows } = await client.query<{ available: number; reserved: number; sold: number }>(
          'SELECT available, reserved, sold FROM products WHERE id = $1',
          [productId],
        );
        return rows[0]!;
      } finally {
        await client.end();
      }
    },
    ordersUsed: async (customer) =>
      (await harness().services.quota.getQuota(customer)).resources.find((r) => r.resource === 'orders')?.used ?? 0,
    confirmsOf: (orderId) => stripe!.requests.filter((r) => isConfirm(r) && r.orderId === orderId).length,
    runOf,
    stateOf: (orderId) => harness().temporal.client.workflow.getHandle(orderWorkflowId(orderId)).query('state'),
    async closed(orderId) {
      await waitUntil(`order ${orderId}'s checkout to close`, async () => (await runOf(orderId)).status !== 'RUNNING', {
        timeoutMs: 60_000,
      });
    },
    async historyOf(orderId) {
      const shown = await temporalWorkflow('show', '--workflow-id', orderWorkflowId(orderId), '--output', 'json');
      return (JSON.parse(shown) as { events: HistoryEvent[] }).events;
    },
  };
}

/** An event type as the CLI prints it (`EVENT_TYPE_WORKFLOW_TASK_COMPLETED` or `WorkflowTaskCompleted`), compared loosely. */
export const isEventType = (event: HistoryEvent, type: string): boolean =>
  event.eventType
    .replace(/^EVENT_TYPE_/, '')
    .replace(/_/g, '')
    .toLowerCase() === type.toLowerCase();

/**
 * The WorkflowTaskCompleted event whose commands scheduled `activity` (the first such task): the
 * reset point an operator picks to replay a checkout from just before that step.
 */
export function taskThatScheduled(events: readonly HistoryEvent[], activity: string): number {
  let lastCompleted: HistoryEvent | undefined;
  for (const event of events) {
    if (isEventType(event, 'WorkflowTaskCompleted')) lastCompleted = event;
    else if (
      isEventType(event, 'ActivityTaskScheduled') &&
      event.activityTaskScheduledEventAttributes?.activityType?.name === activity &&
      lastCompleted
    )
      return Number(lastCompleted.eventId);
  }
  throw new Error(`no workflow task scheduled ${activity}: ${events.map((e) => e.eventType).join(', ')}`);
}

/**
 * A PostgreSQL session holding a lock (a row `FOR UPDATE`, a table) in an open transaction: a step
 * of the checkout that needs it waits in flight until `release`.
 */
export async function holdLock(
  url: string,
  statement: string,
  values: unknown[] = [],
): Promise<{ release(): Promise<void> }> {
  const client = new PgClient({ connectionString: url });
  await client.connect();
  await client.query('BEGIN');
  await client.query(statement, values);
  return {
    async release() {
      await client.query('ROLLBACK');
      await client.end();
    },
  };
}

/** Whether some session of the database at `url` is waiting for a lock (the held step has arrived). */
export async function someoneWaitsForLock(url: string): Promise<boolean> {
  const client = new PgClient({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ waiting: number }>(
      `SELECT count(*)::int AS waiting FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
    );
    return rows[0]!.waiting > 0;
  } finally {
    await client.end();
  }
}
