/**
 * Retry and resolve after an outage, as an operator runs them (`npm run ops`, as a process, and the
 * Temporal CLI): each is an update the parked order accepts or refuses at once. Three orders park
 * in NEEDS_ATTENTION when their stock cannot be released (the inventory database refuses it, two
 * for one reason and one for another). A batch selected by failure lists the two in a dry run and
 * sends nothing; an update whose failure filter does not match, or that is malformed, is refused
 * and leaves no trace; while one order is already retrying, a batch over both is refused for it and
 * accepted for the other (exit 1); resolve closes the third; a closed order refuses a retry.
 */
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import { Client as PgClient } from 'pg';
import { waitUntil } from '../devstack/waits';
import { listOrders } from '../ops/orders';
import { orderWorkflowId } from '../workflows/contract';
import { holdLock, someoneWaitsForLock, useOperatorBench, type PlacedOrder } from './helpers/operator';

jest.setTimeout(180_000);

/** Short: the orders expire, and try to release their stock, while the file runs. */
const ORDER_TTL_SECONDS = 3;
const bench = useOperatorBench(ORDER_TTL_SECONDS);

/**
 * The inventory database refuses to release a reservation holding a blocked product, with the
 * block's reason (SQLSTATE 22023: a refusal no retry changes, so the undo fails at once and parks).
 */
let inventory: PgClient;
beforeAll(async () => {
  inventory = new PgClient({ connectionString: bench.api.dbs.urls.inventory });
  // The bench's teardown ends every session of its databases, this one too.
  inventory.on('error', () => undefined);
  await inventory.connect();
  await inventory.query(`
    CREATE TABLE release_blocks (product_id uuid PRIMARY KEY, reason text NOT NULL);
    CREATE FUNCTION refuse_blocked_release() RETURNS trigger AS $$
    DECLARE why text;
    BEGIN
      SELECT b.reason INTO why FROM release_blocks b JOIN reservation_lines l ON l.product_id = b.product_id
        WHERE l.reservation_id = NEW.id LIMIT 1;
      IF why IS NOT NULL THEN RAISE EXCEPTION '%', why USING ERRCODE = '22023'; END IF;
      RETURN NEW;
    END $$ LANGUAGE plpgsql;
    CREATE TRIGGER refuse_blocked_release BEFORE UPDATE ON reservations
      FOR EACH ROW WHEN (NEW.status = 'RELEASED') EXECUTE FUNCTION refuse_blocked_release();`);
});
afterAll(() => inventory?.end());

const block = (productId: string, reason: string) =>
  inventory.query('INSERT INTO release_blocks (product_id, reason) VALUES ($1, $2)', [productId, reason]);
const unblock = (productId: string) => inventory.query('DELETE FROM release_blocks WHERE product_id = $1', [productId]);

/** The operator's updates the order accepted, with their input and who sent them (a refused one leaves no event). */
async function acceptedUpdates(orderId: string) {
  const history = await bench.api.temporal.client.workflow.getHandle(orderWorkflowId(orderId)).fetchHistory();
  return (history.events ?? []).flatMap((event) => {
    const request = event.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest;
    // The API's `placed` update is there too.
    if (!request || !['retry', 'resolve'].includes(request.input?.name ?? '')) return [];
    return [
      {
        name: request.input?.name,
        input: defaultPayloadConverter.fromPayload(request.input!.args!.payloads![0]! as Payload),
        identity: request.meta?.identity,
      },
    ];
  });
}

const parked = async (order: PlacedOrder) => (await bench.stateOf(order.order.id)).status === 'NEEDS_ATTENTION';

it('retries a batch selected by failure, each order accepting or refusing on its own; resolve closes the last', async () => {
  const [audited, frozen] = [await bench.newProduct(20), await bench.newProduct(20)];
  await block(audited.id, 'audit hold on the stock');
  await block(frozen.id, 'ledger frozen');
  const a = await bench.placeOrder(audited.id);
  const b = await bench.placeOrder(audited.id);
  const c = await bench.placeOrder(frozen.id);
  const all = [a, b, c];
  await waitUntil('the three orders to park', async () => (await Promise.all(all.map(parked))).every(Boolean), {
    timeoutMs: 60_000,
  });
  await waitUntil('visibility to list the three as NEEDS_ATTENTION', async () => {
    const listed = await listOrders(bench.api.temporal.client, { status: 'NEEDS_ATTENTION' });
    return all.every((order) => listed.some((l) => l.orderId === order.order.id));
  });

  // The dry run lists the two orders whose failure says "audit hold", not the third, and sends nothing.
  const dry = await bench.ops('retry', '--failure', 'audit hold', '--dry-run');
  expect({ code: dry.code, stderr: dry.stderr }).toEqual({ code: 0, stderr: '' });
  expect(dry.stdout).toContain('dry run: would send retry to 2 order(s) NEEDS_ATTENTION with a failure containing');
  for (const order of [a, b])
    expect(dry.stdout).toMatch(
      new RegExp(`^  ${order.order.id}  COMPENSATION_FAILED: stockReserved: .*audit hold on the stock$`, 'm'),
    );
  expect(dry.stdout).not.toContain(c.order.id);
  expect(dry.stdout).toContain('nothing was sent');

  // The update itself, from the Temporal CLI: the validator refuses a filter the failure does not match, and a malformed input.
  const mismatched = await bench.tryTemporalWorkflow(
    'update',
    'execute',
    '--workflow-id',
    orderWorkflowId(c.order.id),
    '--name',
    'retry',
    '--input',
    '{"ifFailureContains":"audit hold"}',
  );
  expect(mismatched.code).not.toBe(0);
  // The CLI prints the refusal with its quotes escaped.
  expect(mismatched.stdout + mismatched.stderr).toMatch(
    /which does not contain \\?"audit hold\\?" \(type: ORDER_NOT_PARKED/,
  );
  const malformed = await bench.tryTemporalWorkflow(
    'update',
    'execute',
    '--workflow-id',
    orderWorkflowId(c.order.id),
    '--name',
    'resolve',
    '--input',
    '"retry please"',
  );
  expect(malformed.code).not.toBe(0);
  expect(malformed.stdout + malformed.stderr).toContain("An operator's decision is an object");
  for (const order of all) expect(await acceptedUpdates(order.order.id)).toEqual([]);
  expect((await Promise.all(all.map(parked))).every(Boolean)).toBe(true);

  // The audit is over. A is retried alone first, and its release waits on a lock held on its reservation.
  await unblock(audited.id);
  const lock = await holdLock(
    bench.api.dbs.urls.inventory,
    'SELECT id FROM reservations WHERE order_id = $1 FOR UPDATE',
    [a.order.id],
  );
  try {
    const single = await bench.ops('retry', a.order.id, '--note', 'audit over');
    expect({ code: single.code, stderr: single.stderr }).toEqual({ code: 0, stderr: '' });
    expect(single.stdout).toMatch(
      new RegExp(`^order ${a.order.id} took retry of stockReserved \\(COMPENSATION_FAILED: .*audit hold`, 'm'),
    );
    await waitUntil("A's retried release to wait on the lock", () => someoneWaitsForLock(bench.api.dbs.urls.inventory));

    // A still says NEEDS_ATTENTION, with the same failure, but is no longer waiting for an operator: refused, B accepted.
    const batch = await bench.ops('retry', '--failure', 'audit hold', '--note', 'audit over');
    expect(batch.code).toBe(1);
    expect(batch.stdout).toMatch(
      new RegExp(`^  ✗ ${a.order.id} retry refused: The order is NEEDS_ATTENTION, not waiting for an operator$`, 'm'),
    );
    expect(batch.stdout).toMatch(new RegExp(`^  ✓ ${b.order.id} retry accepted: stockReserved \\(`, 'm'));
    expect(batch.stdout).not.toContain(c.order.id);
    expect(batch.stdout).toContain('1 accepted, 1 refused');
  } finally {
    await lock.release();
  }
  await Promise.all([a, b].map(({ order }) => bench.closed(order.id)));
  for (const { customer, order } of [a, b]) expect((await bench.orderOf(customer, order.id)).status).toBe('EXPIRED');
  expect(await bench.stockOf(audited.id)).toEqual({ available: 20, reserved: 0, sold: 0 });
  // Each order took one decision, the filter with it; the one the batch sent A was refused and left no event.
  expect(await acceptedUpdates(a.order.id)).toEqual([
    { name: 'retry', input: { note: 'audit over' }, identity: expect.stringMatching(/^storefront-ops\//) },
  ]);
  expect(await acceptedUpdates(b.order.id)).toEqual([
    {
      name: 'retry',
      input: { note: 'audit over', ifFailureContains: 'audit hold' },
      identity: expect.stringMatching(/^storefront-ops\//),
    },
  ]);

  // C's stock is released by hand; resolve says so and the order finishes unwinding.
  await unblock(frozen.id);
  expect(await bench.api.services.inventory.release(c.order.id)).toMatchObject({ status: 'RELEASED' });
  const resolved = await bench.ops('resolve', c.order.id, '--note', 'released by hand', '--wait', '60');
  expect({ code: resolved.code, stderr: resolved.stderr }).toEqual({ code: 0, stderr: '' });
  expect(resolved.stdout).toContain(`order ${c.order.id} closed: EXPIRED`);
  expect(await bench.stockOf(frozen.id)).toEqual({ available: 20, reserved: 0, sold: 0 });
  expect(await bench.ordersUsed(c.customer)).toBe(0);

  // A closed order has nothing to retry: refused, with its status.
  const refused = await bench.ops('retry', a.order.id);
  expect(refused.code).toBe(1);
  expect(refused.stderr).toContain(`Order ${a.order.id} is EXPIRED, not NEEDS_ATTENTION: nothing to retry`);
  expect(await bench.reconcile()).toMatchObject({ code: 0, stderr: '' });
});
