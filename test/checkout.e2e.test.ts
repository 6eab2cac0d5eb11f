/**
 * End to end through the running stack (`devstack/local-stack.ts`: Temporal dev server, stripe-mock,
 * workers and API as processes): a customer signs in, fills the cart, orders and pays; a second
 * order is left to expire on its durable timer and gives its stock back.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { waitUntil } from '../devstack/waits';
import { launchStack, READY_LINE, stackSandbox, whenUp, type LaunchedStack } from './helpers/stack-process';

jest.setTimeout(240_000);

/** Long enough that paying in time never races the timer on a busy machine; short enough to wait for. */
const ORDER_TTL_SECONDS = 20;

let sandbox: ReturnType<typeof stackSandbox>;
let stack: LaunchedStack;
let base: string;
/** Placed first and left unpaid, so its timer runs while the paid checkout does (the two waits overlap). */
let unpaid: { token: string; productId: string; before: number; orderId: string; expiresAt: number };

beforeAll(async () => {
  sandbox = stackSandbox('checkout_e2e');
  const env = await sandbox.env({ ORDER_TTL_SECONDS: String(ORDER_TTL_SECONDS) });
  base = `http://127.0.0.1:${env.PORT}`;
  stack = launchStack(env);
  await whenUp(stack, () =>
    waitUntil('the stack to be ready', async () => stack.output().includes(READY_LINE), { timeoutMs: 180_000 }),
  );

  // On another product than the paid checkout's, so neither sees the other's stock change.
  const token = await signIn('e2e-bob');
  const products = (await call('GET', '/v1/products', token)).body.items as { id: string; available: number }[];
  const product = products.filter((p) => p.available >= 1).at(-1)!;
  const placed = await call('POST', '/v1/orders', token, { items: [{ productId: product.id, quantity: 1 }] });
  expect(placed.status).toBe(201);
  expect(await stockOf(token, product.id)).toBe(product.available - 1);
  unpaid = {
    token,
    productId: product.id,
    before: product.available,
    orderId: placed.body.id,
    expiresAt: Date.parse(placed.body.expiresAt),
  };
  expect(unpaid.expiresAt - Date.now()).toBeLessThanOrEqual(ORDER_TTL_SECONDS * 1000);
});

afterAll(async () => {
  if (stack && stack.child.exitCode === null) {
    stack.child.kill('SIGTERM');
    await stack.exited;
  }
  await sandbox?.dispose();
});

async function call(method: string, path: string, token?: string, body?: unknown) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  return { status: response.status, body: (await response.json()) as Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
}

async function signIn(userId: string): Promise<string> {
  const { status, body } = await call('POST', '/v1/auth/dev-token', undefined, { userId });
  expect(status).toBe(200);
  return body.token;
}

async function stockOf(token: string, productId: string): Promise<number> {
  const products = (await call('GET', '/v1/products', token)).body.items as { id: string; available: number }[];
  return products.find((p) => p.id === productId)!.available;
}

async function pickProduct(token: string) {
  const products = (await call('GET', '/v1/products', token)).body.items as {
    id: string;
    available: number;
    priceCents: number;
  }[];
  return products.find((p) => p.available >= 2 && p.id !== unpaid.productId)!;
}

it('sign in, fill the cart, order, pay: COMPLETED, stock reduced, cart empty', async () => {
  const token = await signIn('e2e-alice');
  const product = await pickProduct(token);
  const before = product.available;

  expect((await call('PUT', `/v1/cart/items/${product.id}`, token, { quantity: 2 })).status).toBe(200);
  const placed = await call('POST', '/v1/orders', token);
  expect(placed.status).toBe(201);
  expect(placed.body).toMatchObject({ status: 'AWAITING_PAYMENT', totalCents: 2 * product.priceCents });
  expect(await stockOf(token, product.id)).toBe(before - 2);

  const paid = await call('POST', `/v1/orders/${placed.body.id}/payment`, token, { paymentMethod: 'pm_card_visa' });
  expect(paid.status).toBe(200);
  // Answered once the money is settled; the cart is cleared after it.
  expect(paid.body).toMatchObject({ payment: { status: 'SUCCEEDED' } });
  expect(['PAID', 'COMPLETED']).toContain(paid.body.status);
  await waitUntil(
    'the order to complete',
    async () => (await call('GET', `/v1/orders/${placed.body.id}`, token)).body.status === 'COMPLETED',
    { timeoutMs: 30_000, intervalMs: 50 },
  );
  expect(await stockOf(token, product.id)).toBe(before - 2);
  expect((await call('GET', '/v1/cart', token)).body).toMatchObject({ items: [], totalCents: 0 });
});

it('an order left unpaid expires on its timer and its stock returns', async () => {
  const { token, productId, before, orderId, expiresAt } = unpaid;

  await waitUntil(
    'the order to expire',
    async () => (await call('GET', `/v1/orders/${orderId}`, token)).body.status === 'EXPIRED',
    {
      timeoutMs: ORDER_TTL_SECONDS * 1000 + 60_000,
      intervalMs: 500,
    },
  );
  expect(Date.now()).toBeGreaterThanOrEqual(expiresAt);
  expect(await stockOf(token, productId)).toBe(before);
  const late = await call('POST', `/v1/orders/${orderId}/payment`, token, { paymentMethod: 'pm_card_visa' });
  expect([late.status, late.body.error.code]).toEqual([409, 'ORDER_NOT_PAYABLE']);
});

it("the README's shell tour runs as written against the stack, and pays", async () => {
  const readme = readFileSync(path.join(__dirname, '..', 'README.md'), 'utf8');
  const tour = /\*\*From a shell\*\*[^`]*```bash\n([\s\S]*?)```/.exec(readme)?.[1];
  expect(tour).toContain('API=http://127.0.0.1:3000');
  // Only the address differs: this stack listens on a port of its own.
  const script = tour!.replace('API=http://127.0.0.1:3000', `API=${base}`);
  const ran = spawnSync('bash', ['-euo', 'pipefail', '-c', script], { encoding: 'utf8', timeout: 60_000 });
  expect({ status: ran.status, stderr: ran.stderr }).toEqual({ status: 0, stderr: '' });
  expect(ran.stdout.trim().split('\n').at(-1)).toBe('"PAID"');
});
