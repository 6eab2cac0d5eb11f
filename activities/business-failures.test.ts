import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { DomainError } from '../lib/errors';
import type { InventoryService } from '../services/inventory/inventory.service';
import { withBusinessFailures } from '../lib/business-failures';
import { rejectionOf } from '../test/helpers/rejections';
import { createInventoryActivities } from './inventory.activities';

let env: MockActivityEnvironment;

beforeEach(() => {
  env = new MockActivityEnvironment(undefined, { logger: new DefaultLogger('ERROR') });
});

test('a DomainError becomes a non-retryable ApplicationFailure carrying its code as type and its details', async () => {
  const details = { productId: 'p-1', sku: 'MUG', available: 0, requested: 2 };
  const activities = withBusinessFailures({
    async reserveStock(_input: { orderId: string }): Promise<string> {
      throw new DomainError('OUT_OF_STOCK', 'Only 0 of MUG left, 2 wanted', details);
    },
  });

  const failure = await rejectionOf(env.run(activities.reserveStock, { orderId: 'o-1' }));
  expect(failure).toBeInstanceOf(ApplicationFailure);
  const af = failure as ApplicationFailure;
  expect(af.nonRetryable).toBe(true);
  expect(af.type).toBe('OUT_OF_STOCK');
  expect(af.message).toBe('Only 0 of MUG left, 2 wanted');
  expect(af.details).toEqual([details]);
});

test('a DomainError without details still fails non-retryably with its code', async () => {
  const activities = withBusinessFailures({
    async charge(): Promise<void> {
      throw new DomainError('ORDER_NOT_PAYABLE', 'The payment was refunded');
    },
  });
  const af = (await rejectionOf(env.run(activities.charge))) as ApplicationFailure;
  expect(af).toBeInstanceOf(ApplicationFailure);
  expect(af).toMatchObject({ nonRetryable: true, type: 'ORDER_NOT_PAYABLE', message: 'The payment was refunded' });
});

test('any other error is rethrown as it is and stays retryable', async () => {
  const network = new Error('connect ECONNREFUSED 127.0.0.1:5432');
  const retryableFailure = ApplicationFailure.retryable('flaky', 'TRANSIENT');
  const thrown: unknown[] = [network, retryableFailure, new TypeError('boom')];
  let next = 0;
  const activities = withBusinessFailures({
    async flaky(): Promise<void> {
      throw thrown[next++];
    },
  });

  for (const expected of thrown) {
    const error = await rejectionOf(env.run(activities.flaky));
    expect(error).toBe(expected);
    expect((error as { nonRetryable?: boolean }).nonRetryable ?? false).toBe(false);
  }
  expect(retryableFailure.type).toBe('TRANSIENT');
});

test('success passes arguments and results through, and every activity is wrapped', async () => {
  const seen: unknown[][] = [];
  const activities = withBusinessFailures({
    async add(a: number, b: number): Promise<number> {
      seen.push([a, b]);
      return a + b;
    },
    async echo(input: { value: string }): Promise<{ value: string }> {
      return input;
    },
  });
  expect(Object.keys(activities).sort()).toEqual(['add', 'echo']);
  expect(await env.run(activities.add, 2, 3)).toBe(5);
  expect(seen).toEqual([[2, 3]]);
  expect(await env.run(activities.echo, { value: 'x' })).toEqual({ value: 'x' });
});

test("a service's business failure surfaces from a real activity factory as a non-retryable failure", async () => {
  const inventory = {
    async reserve(): Promise<never> {
      throw new DomainError('OUT_OF_STOCK', 'Only 1 of CAP left, 3 wanted', { sku: 'CAP', available: 1, requested: 3 });
    },
    async release(): Promise<never> {
      throw new Error('connection terminated unexpectedly');
    },
  } as unknown as InventoryService;
  const { reserveStock, releaseStock } = createInventoryActivities({ inventory });

  const af = (await rejectionOf(env.run(reserveStock, { orderId: 'o-2', lines: [] }))) as ApplicationFailure;
  expect(af).toBeInstanceOf(ApplicationFailure);
  expect(af).toMatchObject({ nonRetryable: true, type: 'OUT_OF_STOCK' });
  expect(af.details).toEqual([{ sku: 'CAP', available: 1, requested: 3 }]);

  const infra = await rejectionOf(env.run(releaseStock, { orderId: 'o-2' }));
  expect(infra).not.toBeInstanceOf(ApplicationFailure);
  expect((infra as Error).message).toBe('connection terminated unexpectedly');
});
