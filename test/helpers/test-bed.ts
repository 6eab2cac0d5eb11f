/**
 * What the checkout's workflow and end-to-end tests set up before all their tests: databases of
 * their own, the services on them with Stripe as stripe-mock (or a recording proxy before it),
 * and Temporal in this Jest worker's namespace; and workers running the real activities with
 * some replaced by the test.
 */
import { createActivitiesByQueue, type ServiceQueue } from '../../worker/activities-by-queue';
import { openServices, type Services } from '../../services';
import { createTestDatabases, type TestDatabases } from './databases';
import { connectTestTemporal, type RunningWorkers, type TestTemporal, type TestTemporalOptions } from './temporal';

export interface TestBed {
  dbs: TestDatabases;
  services: Services;
  temporal: TestTemporal;
}

/** The services on the test's databases, charging through stripe-mock (the run's, unless `stripeApiBase` is another). */
export function testServices(dbs: TestDatabases, stripeApiBase = process.env.STRIPE_API_BASE!): Services {
  return openServices(dbs.urls, { stripeSecretKey: undefined, stripeApiBase });
}

export async function openTestBed(
  options: { stripeApiBase?: string; temporal?: TestTemporalOptions } = {},
): Promise<TestBed> {
  const [dbs, temporal] = await Promise.all([createTestDatabases(), connectTestTemporal(options.temporal)]);
  return { dbs, temporal, services: testServices(dbs, options.stripeApiBase) };
}

/** Closes whatever of a test bed was opened: Temporal (and its workers) first, so no activity runs on closed services. */
export async function closeTestBed(bed: Partial<TestBed>): Promise<void> {
  await bed.temporal?.close();
  await bed.services?.close();
  await bed.dbs?.dispose();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyActivity = (input: any) => Promise<any>;
/** Activities a test replaces, by queue and name. */
export type ActivityOverrides = { [Q in ServiceQueue]?: Partial<Record<string, AnyActivity>> };

/** The real activities of one queue, for a replacement that wraps them. */
export function realActivities(bed: Pick<TestBed, 'services' | 'temporal'>, queue: ServiceQueue) {
  return createActivitiesByQueue(bed.services, bed.temporal.client)[queue] as Record<string, AnyActivity>;
}

/**
 * Workers for the checkout and every service queue, running the real activities but for those
 * `overrides` replaces; `queues` replaces a queue's activities whole.
 */
export function startWorkersReplacing(
  bed: Pick<TestBed, 'services' | 'temporal'>,
  overrides: ActivityOverrides = {},
  queues: Partial<Record<ServiceQueue, object>> = {},
): Promise<RunningWorkers> {
  const activities = { ...createActivitiesByQueue(bed.services, bed.temporal.client), ...queues };
  return bed.temporal.startWorkers(
    Object.fromEntries(
      Object.entries(activities).map(([queue, set]) => [queue, { ...set, ...overrides[queue as ServiceQueue] }]),
    ),
  );
}
