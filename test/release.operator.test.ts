/**
 * The release gate as an operator runs it (`npm run ops`, as a process, against the running API and
 * workers): `replay-check` replays what the namespace holds after paid, cancelled and expired
 * orders and finds nothing; with a planted incompatible change as the workflow code (the checkout
 * clearing the cart before it writes PAID), it names each history that diverges and its first
 * divergent event, `set-current` refuses that build, and `--dir` does the same for exported histories.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { bundleVariant, VARIANTS } from '../harness/workflow-variants';
import { orderWorkflowId } from '../workflows/contract';
import { run, useOperatorBench } from './helpers/operator';
import { workflowBundle } from './helpers/temporal';

jest.setTimeout(240_000);

/** Short, so that an order here expires while the file runs. */
const ORDER_TTL_SECONDS = 6;
const bench = useOperatorBench(ORDER_TTL_SECONDS);
const startedAt = Date.now();
/** This file's own folder: the planted bundle and the exported histories. */
const dir = mkdtempSync(path.join(os.tmpdir(), 'release-operator-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** `npm run ops -- <args>` with `code` as the workflow code it replays against (WORKFLOW_BUNDLE). */
const opsWith = (code: string, ...args: string[]) =>
  run('npm', ['run', '--silent', 'ops', '--', ...args], {
    ...process.env,
    TEMPORAL_NAMESPACE: bench.api.temporal.namespace,
    WORKFLOW_BUNDLE: code,
  });
/** Histories of this file's workflows only: the namespace also holds earlier test files'. */
const sinceThisFile = () => `${Math.ceil((Date.now() - startedAt) / 1000) + 5}s`;

let plantedCode: string;
const orders: { paid: string; cancelled: string; expired: string } = { paid: '', cancelled: '', expired: '' };

beforeAll(async () => {
  plantedCode = path.join(dir, 'planted.js');
  writeFileSync(plantedCode, (await bundleVariant(VARIANTS.stepsSwapped)).code);
  const product = await bench.newProduct(30);
  // One after another: each is paid or cancelled well within its few seconds.
  const paid = await bench.placeOrder(product.id);
  expect((await bench.pay(paid.customer, paid.order.id)).statusCode).toBe(200);
  const cancelled = await bench.placeOrder(product.id);
  const cancel = await bench.api.as(cancelled.customer, {
    method: 'POST',
    url: `/v1/orders/${cancelled.order.id}/cancel`,
    payload: { reason: 'release tier' },
  });
  expect(cancel.statusCode).toBe(200);
  const expired = await bench.placeOrder(product.id);
  await Promise.all([paid, cancelled, expired].map(({ order }) => bench.closed(order.id)));
  expect((await bench.orderOf(expired.customer, expired.order.id)).status).toBe('EXPIRED');
  Object.assign(orders, { paid: paid.order.id, cancelled: cancelled.order.id, expired: expired.order.id });
});

it('replay-check replays every history of the namespace with the current code and finds nothing', async () => {
  const checked = await opsWith(workflowBundle().codePath, 'replay-check', '--since', sinceThisFile());
  expect({ code: checked.code, stderr: checked.stderr }).toEqual({ code: 0, stderr: '' });
  expect(checked.stdout).toMatch(/^checkoutWorkflow\s+3 replayed, 0 diverged$/m);
  expect(checked.stdout).toMatch(/histories from namespace .* replay with this workflow code/);
});

it('replay-check names the history a planted incompatible change breaks, with its first divergent event', async () => {
  const checked = await opsWith(plantedCode, 'replay-check', '--since', sinceThisFile(), '--type', 'checkoutWorkflow');
  expect(checked.code).toBe(1);
  expect(checked.stdout).toMatch(/^checkoutWorkflow\s+3 replayed, 1 diverged$/m);
  // Only the paid order reached the swapped steps: the code now clears the cart where PAID was written.
  expect(checked.stdout).toMatch(
    new RegExp(
      `✗ ${orderWorkflowId(orders.paid)} \\(run [0-9a-f-]+\\), checkoutWorkflow: first divergent event #\\d+ ActivityTaskScheduled \\(setOrderStatus\\): .*'setOrderStatus' does not match .*'clearCart'`,
    ),
  );
  expect(checked.stdout).not.toContain(orders.cancelled);
  expect(checked.stdout).not.toContain(orders.expired);
});

it('set-current refuses a build whose code does not replay the histories it would run, before routing anything', async () => {
  const refused = await opsWith(
    plantedCode,
    'set-current',
    'planted-build',
    '--deployment',
    'release-tier',
    '--since',
    sinceThisFile(),
  );
  expect(refused.code).toBe(1);
  expect(refused.stdout).toContain(`✗ ${orderWorkflowId(orders.paid)}`);
  expect(refused.stdout).toContain('refused: release-tier build planted-build stays as it is');
  // Skipping the gate goes on to the server, which knows no such build.
  const skipped = await opsWith(
    plantedCode,
    'set-current',
    'planted-build',
    '--deployment',
    'release-tier',
    '--skip-replay-check',
  );
  expect(skipped.code).toBe(1);
  expect(skipped.stdout).toContain('replay-check skipped');
  expect(skipped.stderr).toMatch(/No worker deployment|No worker of release-tier build planted-build/);
});

it('replay-check --dir replays exported histories, as CI does', async () => {
  const exported = path.join(dir, 'exported');
  mkdirSync(exported);
  for (const [name, orderId] of Object.entries(orders))
    writeFileSync(
      path.join(exported, `${name}.json`),
      await bench.temporalWorkflow('show', '--workflow-id', orderWorkflowId(orderId), '--output', 'json'),
    );
  const passes = await opsWith(workflowBundle().codePath, 'replay-check', '--dir', exported);
  expect({ code: passes.code, stdout: passes.stdout }).toEqual({
    code: 0,
    stdout: expect.stringMatching(/^checkoutWorkflow\s+3 replayed, 0 diverged$/m),
  });
  const fails = await opsWith(plantedCode, 'replay-check', '--dir', exported);
  expect(fails.code).toBe(1);
  expect(fails.stdout).toMatch(
    /✗ paid, checkoutWorkflow: first divergent event #\d+ ActivityTaskScheduled \(setOrderStatus\)/,
  );
});
