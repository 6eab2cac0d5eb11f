/**
 * The versioning drill of docs/changing-workflows.md, on the real dev server and services: orders
 * start on worker version A; version B, whose checkout clears the cart before writing PAID (a change
 * A's histories cannot replay), is made current with `npm run ops -- set-current`; A's orders finish
 * on A's workers, new ones run on B, and `npm run ops -- versions` shows A's open orders going to 0,
 * when its workers can stop.
 */
import type { Client } from '@temporalio/client';
import { temporal as proto } from '@temporalio/proto';
import type { WorkflowBundleOption } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import { signalNotification } from '../temporal/notification-signal';
import { CheckoutClient } from '../temporal/checkout-client';
import { temporalSettingsFromEnv } from '../temporal/connection';
import type { DeploymentListing, VersionListing } from '../ops/versions';
import type { WorkerDeploymentVersion } from '../worker/deployment';
import { waitUntil } from '../devstack/waits';
import type { Services } from '../services';
import { notificationWorkflowId, orderWorkflowId, type CheckoutInput } from '../workflows/contract';
import { checkoutOf, newProduct } from './helpers/checkouts';
import type { TestDatabases } from './helpers/databases';
import { VERSIONING_DRILL_NAMESPACE } from '../harness/test-infrastructure';
import { workflowBundle, type TestTemporal } from './helpers/temporal';
import { closeTestBed, openTestBed } from './helpers/test-bed';
import { Releases } from './helpers/releases';
import { bundleVariant, VARIANTS } from '../harness/workflow-variants';

jest.setTimeout(120_000);

const DEPLOYMENT = 'storefront';
const A: WorkerDeploymentVersion = { deploymentName: DEPLOYMENT, buildId: 'drill-a' };
const B: WorkerDeploymentVersion = { deploymentName: DEPLOYMENT, buildId: 'drill-b' };
/** A release only half up: its checkout process runs, its service processes do not. */
const C: WorkerDeploymentVersion = { deploymentName: DEPLOYMENT, buildId: 'drill-c' };
const PINNED = proto.api.enums.v1.VersioningBehavior.VERSIONING_BEHAVIOR_PINNED;

let dbs: TestDatabases;
let services: Services;
let temporal: TestTemporal;
let client: Client;
let checkout: CheckoutClient;
let releases: Releases;

beforeAll(async () => {
  const settings = { ...temporalSettingsFromEnv(), namespace: VERSIONING_DRILL_NAMESPACE };
  ({ dbs, services, temporal } = await openTestBed({ temporal: { settings } }));
  client = temporal.client;
  checkout = new CheckoutClient(client);
  releases = new Releases({ temporal, services, client }, DEPLOYMENT);
});

afterAll(async () => {
  await releases?.stopAll();
  await closeTestBed({ temporal, services, dbs });
});

/**
 * `npm run ops -- <args>`, in this process, with what it printed. The release gate of set-current
 * replays against `code`, the release's workflow code (A's, the real code, unless told).
 */
async function runOps(...args: string[]): Promise<string> {
  return runOpsWith(workflowBundle(), ...args);
}

async function runOpsWith(code: WorkflowBundleOption, ...args: string[]): Promise<string> {
  const ran = await releases.ops(args, code);
  expect(ran).toEqual({ code: 0, stdout: ran.stdout });
  return ran.stdout;
}

/**
 * The listing once visibility counts the open checkouts the test knows of: it records a workflow's
 * version when the first task completes and its close when it closes, each a moment after the fact.
 */
async function listingOnceCounted(openCheckouts: Record<string, number>): Promise<DeploymentListing> {
  let last: DeploymentListing | undefined;
  await waitUntil(
    `visibility to count open checkouts ${JSON.stringify(openCheckouts)}`,
    async () => {
      last = await releases.listing();
      return Object.entries(openCheckouts).every(
        ([buildId, open]) => last!.versions.find((v) => v.buildId === buildId)?.openCheckouts === open,
      );
    },
    { timeoutMs: 10_000 },
  );
  return last!;
}

function version(list: DeploymentListing, buildId: string): Omit<VersionListing, 'taskQueues'> {
  const { taskQueues: _taskQueues, ...found } = list.versions.find((v) => v.buildId === buildId)!;
  return found;
}

async function newOrder(): Promise<CheckoutInput> {
  return checkoutOf(await newProduct(services.inventory, 'DRILL', 5, 900), 1, 300, 'drill');
}

/** Which build ran the workflow's tasks and its activities, how it is pinned, and its steps after the sale. */
async function howItRan(workflowId: string) {
  const handle = client.workflow.getHandle(workflowId);
  const [history, description] = await Promise.all([handle.fetchHistory(), handle.describe()]);
  const events = history.events ?? [];
  const types = events.flatMap((event) =>
    event.activityTaskScheduledEventAttributes ? [event.activityTaskScheduledEventAttributes.activityType?.name] : [],
  );
  const versioning = description.raw.workflowExecutionInfo?.versioningInfo;
  return {
    workflowTaskBuilds: [
      ...new Set(
        events.flatMap((event) =>
          event.workflowTaskCompletedEventAttributes
            ? [event.workflowTaskCompletedEventAttributes.deploymentVersion?.buildId]
            : [],
        ),
      ),
    ],
    activityBuilds: [
      ...new Set(
        events.flatMap((event) =>
          event.activityTaskStartedEventAttributes
            ? [event.activityTaskStartedEventAttributes.workerVersion?.buildId]
            : [],
        ),
      ),
    ],
    pinnedTo: versioning?.behavior === PINNED ? versioning.deploymentVersion?.buildId : undefined,
    // The status events in between run beside the saga, in no fixed place.
    afterSale: types.slice(types.indexOf('commitStock') + 1).filter((type) => type !== 'persistNotification'),
  };
}

it('finishes version A orders on A after B is made current, runs new orders on B, and shows A draining to 0', async () => {
  const bundleB = bundleVariant(VARIANTS.stepsSwapped);
  const bundleA = workflowBundle();
  await releases.start(A, bundleA);
  expect(await runOps('set-current', A.buildId)).toContain('drill-a is current (was unversioned)');
  // A build no worker runs (a typo, a release not started yet) is refused: no order is sent to it.
  await expect(runOps('set-current', 'drill-typo')).rejects.toThrow(
    'No worker of storefront build drill-typo has polled',
  );
  // Nor a release half up: its orders' activities would wait for workers that are not there.
  await releases.start(C, bundleA, ['checkout']);
  await expect(runOps('set-current', C.buildId)).rejects.toThrow(
    "drill-c's workers do not poll cart, inventory, notifications, orders, payments, quota",
  );

  // Two orders start on A (and wait for payment) while B's workers come up beside A's.
  const [paidOnA, cancelledOnA] = [await newOrder(), await newOrder()];
  // A user's notification workflow never ends: it must follow the current version, never hold A.
  const notified = `drill-${randomUUID().slice(0, 8)}`;
  const [first, second] = await Promise.all([
    checkout.place(paidOnA),
    checkout.place(cancelledOnA),
    signalNotification(client, {
      userId: notified,
      kind: 'NOTIFICATION',
      type: 'drill',
      payload: {},
      dedupeKey: 'before',
    }),
    bundleB.then((bundle) => releases.start(B, bundle)),
  ]);
  expect([first.status, second.status]).toEqual(['AWAITING_PAYMENT', 'AWAITING_PAYMENT']);
  await waitUntil(
    'the notification workflow to run its first task',
    async () => (await howItRan(notificationWorkflowId(notified))).workflowTaskBuilds.length > 0,
    { timeoutMs: 10_000 },
  );
  const beforeSwitch = await listingOnceCounted({ [A.buildId]: 2 });
  expect(version(beforeSwitch, A.buildId)).toEqual({
    buildId: A.buildId,
    status: 'current',
    openCheckouts: 2,
    openPinned: 2,
    canStop: false,
  });
  expect(version(beforeSwitch, B.buildId)).toEqual({
    buildId: B.buildId,
    status: 'inactive',
    openCheckouts: 0,
    openPinned: 0,
    canStop: true,
  });

  // B's code cannot replay A's paid checkouts, but every checkout is pinned to A: the gate replays only
  // what B would run (the notification workflow, which follows the current version), and lets B through.
  const switched = await runOpsWith(await bundleB, 'set-current', B.buildId);
  expect(switched).not.toContain('diverged: ');
  expect(switched).not.toContain('✗');
  expect(switched).toContain('drill-b is current (was drill-a)');
  const newOnB = await newOrder();
  expect((await checkout.place(newOnB)).status).toBe('AWAITING_PAYMENT');
  const whileDraining = await listingOnceCounted({ [A.buildId]: 2, [B.buildId]: 1 });
  expect(version(whileDraining, A.buildId)).toMatchObject({
    status: 'draining',
    openCheckouts: 2,
    openPinned: 2,
    canStop: false,
  });
  expect(version(whileDraining, B.buildId)).toMatchObject({
    status: 'current',
    openCheckouts: 1,
    openPinned: 1,
    canStop: false,
  });

  const [paid, cancelled, paidOnB] = await Promise.all([
    checkout.pay(paidOnA.orderId, paidOnA.customerId, 'pm_card_visa'),
    checkout.cancel(cancelledOnA.orderId, 'drill'),
    checkout.pay(newOnB.orderId, newOnB.customerId, 'pm_card_visa'),
    signalNotification(client, {
      userId: notified,
      kind: 'NOTIFICATION',
      type: 'drill',
      payload: {},
      dedupeKey: 'after',
    }),
  ]);
  expect([paid.status, cancelled.status, paidOnB.status]).toEqual(['PAID', 'CANCELLED', 'PAID']);
  const results = await Promise.all(
    [paidOnA, cancelledOnA, newOnB].map((order) => client.workflow.getHandle(orderWorkflowId(order.orderId)).result()),
  );
  expect(results.map((state) => state.status)).toEqual(['COMPLETED', 'CANCELLED', 'COMPLETED']);

  // A's code writes PAID before it clears the cart; B's, the other way round. Each order ran one
  // build's code throughout, workflow tasks and activities alike.
  const sold = ['setOrderStatus', 'clearCart', 'setOrderStatus'];
  expect(await howItRan(orderWorkflowId(paidOnA.orderId))).toEqual({
    workflowTaskBuilds: [A.buildId],
    activityBuilds: [A.buildId],
    pinnedTo: A.buildId,
    afterSale: sold,
  });
  expect(await howItRan(orderWorkflowId(newOnB.orderId))).toEqual({
    workflowTaskBuilds: [B.buildId],
    activityBuilds: [B.buildId],
    pinnedTo: B.buildId,
    afterSale: ['clearCart', 'setOrderStatus', 'setOrderStatus'],
  });
  expect(await howItRan(orderWorkflowId(cancelledOnA.orderId))).toMatchObject({
    workflowTaskBuilds: [A.buildId],
    activityBuilds: [A.buildId],
    pinnedTo: A.buildId,
  });
  await waitUntil(
    'the notification workflow to take its second signal',
    async () => (await howItRan(notificationWorkflowId(notified))).workflowTaskBuilds.includes(B.buildId),
    { timeoutMs: 10_000 },
  );
  expect((await howItRan(notificationWorkflowId(notified))).workflowTaskBuilds).toEqual([A.buildId, B.buildId]);

  const drained = await listingOnceCounted({ [A.buildId]: 0, [B.buildId]: 0 });
  // The server's own drainage status follows within minutes (it recounts periodically): draining, then drained.
  expect(version(drained, A.buildId)).toEqual({
    buildId: A.buildId,
    status: expect.stringMatching(/^drain(ing|ed)$/),
    openCheckouts: 0,
    openPinned: 0,
    canStop: true,
  });
  expect(version(drained, B.buildId)).toMatchObject({ status: 'current', openCheckouts: 0, canStop: false });
  expect(drained.unversionedOpenCheckouts).toBe(0);
  const table = await runOps('versions');
  expect(table).toMatch(/^drill-a\s+drain(ing|ed)\s+0\s+0\s+yes\s/m);
  expect(table).toMatch(/^drill-b\s+current\s+0\s+0\s+no\s/m);
});
