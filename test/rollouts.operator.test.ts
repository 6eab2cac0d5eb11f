/**
 * A rollout as an operator runs it (`npm run ops -- set-ramping`, `wait-drained`), on the dev server
 * with two worker versions of the real code, in a namespace of its own (a current or ramping version
 * is the routing of the namespace's task queues: other test files' orders must not follow it).
 * Version A is current with an order pinned to it; B ramped to 100 % takes the next order; neither
 * a ramping nor a current version is waited on; once B is current, wait-drained A runs out while
 * A's order is open (exit 2), and answers as soon as it closes.
 */
import type { Client } from '@temporalio/client';
import { waitUntil } from '../devstack/waits';
import type { Services } from '../services';
import { CheckoutClient } from '../temporal/checkout-client';
import type { WorkerDeploymentVersion } from '../worker/deployment';
import { orderWorkflowId, type CheckoutInput } from '../workflows/contract';
import { checkoutOf, newProduct } from './helpers/checkouts';
import type { TestDatabases } from './helpers/databases';
import { Releases } from './helpers/releases';
import { namespaceOfItsOwn, type TestTemporal } from './helpers/temporal';
import { closeTestBed, openTestBed } from './helpers/test-bed';

jest.setTimeout(180_000);

const DEPLOYMENT = 'storefront';
const A: WorkerDeploymentVersion = { deploymentName: DEPLOYMENT, buildId: 'rollout-a' };
const B: WorkerDeploymentVersion = { deploymentName: DEPLOYMENT, buildId: 'rollout-b' };

let dbs: TestDatabases;
let services: Services;
let temporal: TestTemporal;
let client: Client;
let checkout: CheckoutClient;
let releases: Releases;

beforeAll(async () => {
  const settings = await namespaceOfItsOwn('rollout');
  ({ dbs, services, temporal } = await openTestBed({ temporal: { settings } }));
  client = temporal.client;
  checkout = new CheckoutClient(client);
  releases = new Releases({ temporal, services, client }, DEPLOYMENT);
});

afterAll(async () => {
  await releases?.stopAll();
  await closeTestBed({ temporal, services, dbs });
});

/** `npm run ops -- <args> --deployment storefront` in this process: its exit code and what it printed. */
const runOps = (...args: string[]) => releases.ops(args);

async function newOrder(): Promise<CheckoutInput> {
  const input = checkoutOf(await newProduct(services.inventory, 'ROLLOUT', 5, 900), 1, 300, 'rollout');
  expect((await checkout.place(input)).status).toBe('AWAITING_PAYMENT');
  return input;
}

const pinnedTo = async (order: CheckoutInput) =>
  (await client.workflow.getHandle(orderWorkflowId(order.orderId)).describe()).raw.workflowExecutionInfo?.versioningInfo
    ?.deploymentVersion?.buildId;

it('ramps new orders onto a version, refuses to wait on one still routed to, and waits for the old one to drain', async () => {
  await releases.start(A);
  expect((await runOps('set-current', A.buildId)).code).toBe(0);
  const onA = await newOrder();
  expect(await pinnedTo(onA)).toBe(A.buildId);
  await releases.start(B);

  // The whole ramp: every new order goes to B while A stays current.
  const ramped = await runOps('set-ramping', B.buildId, '100');
  expect(ramped).toEqual({
    code: 0,
    stdout: expect.stringContaining(
      'storefront build rollout-b is ramping at 100% of new orders (ramping before: none)',
    ),
  });
  expect(
    (await releases.listing()).versions.map(({ buildId, status, rampPercentage }) => ({
      buildId,
      status,
      rampPercentage,
    })),
  ).toEqual([
    { buildId: A.buildId, status: 'current' },
    { buildId: B.buildId, status: 'ramping', rampPercentage: 100 },
  ]);
  const onB = await newOrder();
  expect(await pinnedTo(onB)).toBe(B.buildId);
  await expect(runOps('set-ramping', B.buildId, '150')).rejects.toThrow('a percentage from 0 to 100');

  // Nothing drains a version new orders still go to: refused at once rather than waited on forever.
  await expect(runOps('wait-drained', B.buildId)).rejects.toThrow('rollout-b is ramping: new orders still go to it');
  await expect(runOps('wait-drained', A.buildId)).rejects.toThrow('rollout-a is current: new orders still go to it');

  expect((await runOps('set-current', B.buildId)).stdout).toContain('rollout-b is current (was rollout-a)');
  await waitUntil('visibility to count the order pinned to A', async () => {
    const a = (await releases.listing()).versions.find((v) => v.buildId === A.buildId);
    return a?.status === 'draining' && a.openPinned === 1;
  });
  const early = await runOps('wait-drained', A.buildId, '--timeout', '1s');
  expect(early).toEqual({
    code: 2,
    stdout: [
      'rollout-a: draining, 1 open workflow(s) pinned to it',
      'rollout-a has not drained after 1s: 1 open workflow(s) still pinned to it',
    ].join('\n'),
  });

  const waiting = runOps('wait-drained', A.buildId, '--timeout', '2m');
  await checkout.cancel(onA.orderId, 'rollout drill');
  expect(await waiting).toEqual({
    code: 0,
    stdout: expect.stringMatching(
      /rollout-a: drain(ing|ed), 0 open workflow\(s\) pinned to it\nrollout-a has drained: its workers can be stopped$/,
    ),
  });
  await checkout.cancel(onB.orderId, 'rollout drill');
});
