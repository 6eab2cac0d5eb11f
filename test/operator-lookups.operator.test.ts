/**
 * The operators' lookups and cancel, as an operator types them (`npm run ops`, as a process, against
 * the running API and workers), and the Temporal settings they connect with.
 *
 * Lookups: `list --email` finds a customer's orders from their address (any case), through the
 * accounts service; `show --payment-intent` finds the order a PaymentIntent paid for, through the
 * payments service. Both refuse an unknown or malformed value with a clear line and exit 1.
 *
 * Cancel: `cancel <orderId> --reason` takes the customer's own path (the cancel update and its
 * unwind): the stock is back and the reason is in the order's history; a completed order, an
 * unknown one and a cancel without a reason are refused.
 *
 * Settings: `npm run ops` and the real Temporal CLI reach the bench's namespace from one
 * temporal.toml profile (no TEMPORAL_ADDRESS or TEMPORAL_NAMESPACE set); a CLI name and this
 * project's older name set to different files stop the command, naming both.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureTool } from '../devstack/tools';
import { databaseUrlEnv } from '../lib/config';
import { orderWorkflowId } from '../workflows/contract';
import { run, useOperatorBench } from './helpers/operator';

jest.setTimeout(240_000);

/** Long enough that no order here expires while the file runs. */
const bench = useOperatorBench(300);
const dir = mkdtempSync(path.join(os.tmpdir(), 'lookups-operator-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A signed-up customer's order of three units, placed through the API. */
async function orderOf(customerId: string, productId: string): Promise<{ id: string }> {
  const placed = await bench.api.as(customerId, {
    method: 'POST',
    url: '/v1/orders',
    payload: { items: [{ productId, quantity: 3 }] },
  });
  expect(placed.statusCode).toBe(201);
  return placed.json();
}

describe('lookups', () => {
  it('list --email lists the orders of the customer with that address, whatever their status', async () => {
    const email = `Lookup-${randomUUID().slice(0, 8)}@Example.com`;
    const account = await bench.api.services.accounts.createAccount({ email, password: 'a long enough password' });
    const product = await bench.newProduct(20);
    const [waiting, paid] = [await orderOf(account.id, product.id), await orderOf(account.id, product.id)];
    expect((await bench.pay(account.id, paid.id)).statusCode).toBe(200);
    await bench.closed(paid.id);

    const listed = await bench.ops('list', '--email', email.toLowerCase());
    expect({ code: listed.code, stderr: listed.stderr }).toEqual({ code: 0, stderr: '' });
    expect(listed.stdout).toContain(`${email}: customer ${account.id} (free plan, user)`);
    expect(listed.stdout).toMatch(new RegExp(`^${waiting.id}\\s+AWAITING_PAYMENT\\s+${account.id}\\s`, 'm'));
    expect(listed.stdout).toMatch(new RegExp(`^${paid.id}\\s+COMPLETED\\s+${account.id}\\s`, 'm'));
    expect(listed.stdout).toMatch(/2 order\(s\) matching/);

    const unknown = await bench.ops('list', '--email', 'nobody-here@example.com');
    expect({ code: unknown.code, stderr: unknown.stderr.trim() }).toEqual({
      code: 1,
      stderr: 'No account for nobody-here@example.com',
    });
    const malformed = await bench.ops('list', '--email', 'not an email');
    expect({ code: malformed.code, stderr: malformed.stderr.trim() }).toEqual({
      code: 1,
      stderr: '"not an email" is not an email address',
    });
  });

  it('show --payment-intent shows the order that PaymentIntent paid for', async () => {
    const customer = `lookup-${randomUUID().slice(0, 8)}`;
    const order = await orderOf(customer, (await bench.newProduct(10)).id);
    const paid = await bench.pay(customer, order.id);
    expect(paid.statusCode).toBe(200);
    const paymentIntentId = (paid.json() as { payment: { paymentIntentId: string } }).payment.paymentIntentId;
    expect(paymentIntentId).toMatch(/^pi_/);

    const shown = await bench.ops('show', '--payment-intent', paymentIntentId);
    expect({ code: shown.code, stderr: shown.stderr }).toEqual({ code: 0, stderr: '' });
    expect(shown.stdout).toMatch(new RegExp(`^payment   ${paymentIntentId}: SUCCEEDED, 36\\.00 USD$`, 'm'));
    expect(shown.stdout).toMatch(new RegExp(`^order     ${order.id}  \\(workflow ${orderWorkflowId(order.id)}`, 'm'));
    const json = JSON.parse((await bench.ops('show', '--payment-intent', paymentIntentId, '--json')).stdout);
    expect(json).toMatchObject({ orderId: order.id, customerId: customer, payment: { paymentIntentId } });

    const unknown = await bench.ops('show', '--payment-intent', 'pi_NoSuchIntent123');
    expect({ code: unknown.code, stderr: unknown.stderr.trim() }).toEqual({
      code: 1,
      stderr: 'No payment of this store has PaymentIntent pi_NoSuchIntent123',
    });
    const malformed = await bench.ops('show', '--payment-intent', 'ch_123');
    expect({ code: malformed.code, stderr: malformed.stderr.trim() }).toEqual({
      code: 1,
      stderr: '"ch_123" is not a PaymentIntent id (pi_...)',
    });
  });
});

describe('cancel', () => {
  it("cancels an unpaid order through the customer's path, with the reason in its history", async () => {
    const product = await bench.newProduct(10);
    const { customer, order } = await bench.placeOrder(product.id);
    expect(await bench.stockOf(product.id)).toMatchObject({ available: 7, reserved: 3 });

    const cancelled = await bench.ops('cancel', order.id, '--reason', 'customer asked support by phone');
    expect({ code: cancelled.code, stderr: cancelled.stderr }).toEqual({ code: 0, stderr: '' });
    expect(cancelled.stdout).toMatch(new RegExp(`^order ${order.id} is CANCELLED; undone: .*stockReserved`, 'm'));
    expect(await bench.orderOf(customer, order.id)).toMatchObject({ status: 'CANCELLED' });
    expect(await bench.stockOf(product.id)).toMatchObject({ available: 10, reserved: 0 });
    expect(await bench.ordersUsed(customer)).toBe(0);
    const history = (await bench.api.services.orders.get(order.id))!.history;
    expect(history.at(-1)).toMatchObject({
      to: 'CANCELLED',
      reason: 'Cancelled by an operator: customer asked support by phone',
    });
    // The same cancel update the API sends, from the operator's identity.
    const events = await bench.historyOf(order.id);
    expect(events.some((event) => /UpdateAccepted/i.test(event.eventType.replace(/_/g, '')))).toBe(true);

    const again = await bench.ops('cancel', order.id, '--reason', 'twice');
    expect({ code: again.code, stderr: again.stderr.trim() }).toEqual({
      code: 1,
      stderr: `Order ${order.id} has ended (CANCELLED): nothing to cancel`,
    });
  });

  it('refuses a paid order, an unknown one and a cancel without a reason', async () => {
    const product = await bench.newProduct(10);
    const { customer, order } = await bench.placeOrder(product.id);
    const noReason = await bench.ops('cancel', order.id);
    expect({ code: noReason.code, stderr: noReason.stderr.trim() }).toEqual({
      code: 1,
      stderr: 'cancel needs --reason TEXT: it is recorded in the order history',
    });
    expect((await bench.pay(customer, order.id)).statusCode).toBe(200);
    await bench.closed(order.id);
    const paid = await bench.ops('cancel', order.id, '--reason', 'too late');
    expect({ code: paid.code, stderr: paid.stderr.trim() }).toEqual({
      code: 1,
      stderr: `Order ${order.id} has ended (COMPLETED): nothing to cancel`,
    });
    expect(await bench.orderOf(customer, order.id)).toMatchObject({ status: 'COMPLETED' });

    const unknownId = randomUUID();
    const unknown = await bench.ops('cancel', unknownId, '--reason', 'no such order');
    expect({ code: unknown.code, stderr: unknown.stderr.trim() }).toEqual({
      code: 1,
      stderr: `No order ${unknownId} in this namespace`,
    });
  });
});

describe("the Temporal CLI's settings", () => {
  /** The process's environment without the Temporal settings the test process itself runs with. */
  function envWithout(...names: string[]): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { ...process.env, ...databaseUrlEnv(bench.api.dbs.urls), STRIPE_SECRET_KEY: '' };
    for (const name of names) delete env[name];
    return env;
  }

  it('npm run ops and the temporal CLI reach the namespace from the same temporal.toml profile', async () => {
    const { order } = await bench.placeOrder((await bench.newProduct(10)).id);
    const file = path.join(dir, 'temporal.toml');
    writeFileSync(
      file,
      [
        '[profile.default]',
        'address = "127.0.0.1:1"',
        '[profile.bench]',
        `address = "${process.env.TEMPORAL_ADDRESS}"`,
        `namespace = "${bench.api.temporal.namespace}"`,
      ].join('\n'),
    );
    const env = {
      ...envWithout('TEMPORAL_ADDRESS', 'TEMPORAL_NAMESPACE'),
      TEMPORAL_CONFIG_FILE: file,
      TEMPORAL_PROFILE: 'bench',
    };
    const shown = await run('npm', ['run', '--silent', 'ops', '--', 'show', order.id], env);
    expect({ code: shown.code, stderr: shown.stderr }).toEqual({ code: 0, stderr: '' });
    expect(shown.stdout).toContain(`order     ${order.id}`);
    const described = await run(
      await ensureTool('temporal'),
      ['workflow', 'describe', '--workflow-id', orderWorkflowId(order.id)],
      env,
    );
    expect({ code: described.code, stderr: described.stderr }).toEqual({ code: 0, stderr: '' });
    expect(described.stdout).toContain(orderWorkflowId(order.id));
  });

  it('refuses a CLI name and its older name set to different files, naming both', async () => {
    const [cert, other] = ['client.pem', 'other.pem'].map((name) => path.join(dir, name)) as [string, string];
    writeFileSync(cert, 'CERT');
    writeFileSync(other, 'OTHER');
    const refused = await run('npm', ['run', '--silent', 'ops', '--', 'list'], {
      ...envWithout(),
      TEMPORAL_TLS_CLIENT_CERT_PATH: cert,
      TEMPORAL_TLS_CERT_PATH: other,
      TEMPORAL_TLS_CLIENT_KEY_PATH: cert,
    });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(
      `TEMPORAL_TLS_CLIENT_CERT_PATH=${cert} and TEMPORAL_TLS_CERT_PATH=${other} (its older name) disagree: set TEMPORAL_TLS_CLIENT_CERT_PATH only`,
    );
  });
});
