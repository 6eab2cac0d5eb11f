/**
 * Which activity failures Temporal may retry: a service's business failure (a DomainError) and a
 * value the database refuses for good (SQLSTATE class 22, most of class 23) fail at once with their
 * code; anything else stays retryable. Database refusals are real ones, from a fresh PostgreSQL
 * database through Prisma's driver adapter and through pg itself.
 */
import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger } from '@temporalio/worker';
import { randomUUID } from 'node:crypto';
import { Client as PgClient } from 'pg';
import { databaseRefusalOf, deterministicDatabaseRefusalOf, DomainError } from '../lib/errors';
import { createInventoryDb, type InventoryDb } from '../services/inventory/db';
import { InventoryService } from '../services/inventory/inventory.service';
import { createOrdersDb } from '../services/orders/db';
import { OrdersService } from '../services/orders/orders.service';
import { withBusinessFailures } from '../lib/business-failures';
import { createTestDatabases } from '../test/helpers/databases';
import { rejectionOf } from '../test/helpers/rejections';
import { createInventoryActivities } from './inventory.activities';
import { createOrdersActivities } from './orders.activities';

jest.setTimeout(60_000);

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

describe('database refusals', () => {
  let dbs: Awaited<ReturnType<typeof createTestDatabases>>;
  let db: InventoryDb;
  let productId: string;
  beforeAll(async () => {
    dbs = await createTestDatabases(['inventory', 'orders']);
    db = createInventoryDb(dbs.urls.inventory);
    productId = (await db.product.create({ data: { sku: 'REFUSALS', name: 'Lamp', priceCents: 1, available: 1 } })).id;
  });
  afterAll(async () => {
    await db?.$disconnect();
    await dbs?.dispose();
  });

  /** pg's own DatabaseError, for the code that talks to PostgreSQL without Prisma (listeners, the migrator). */
  async function withPg<T>(run: (client: PgClient) => Promise<T>): Promise<T> {
    const client = new PgClient({ connectionString: dbs.urls.inventory });
    await client.connect();
    try {
      return await run(client);
    } finally {
      await client.end();
    }
  }

  it('are read from real errors, and classified: class 22 and not-null or check violations for good, races retryable', async () => {
    const product = (sku: string, fields: Partial<{ name: string; priceCents: number }> = {}) => ({
      data: { sku, name: 'n', priceCents: 1, available: 1, ...fields },
    });
    const cases: [string, () => Promise<unknown>, string, boolean][] = [
      ['a NUL in text (Prisma)', () => db.product.create(product('NUL', { name: 'a\u0000' })), '22021', true],
      [
        'a NUL in text (Prisma, raw query)',
        () => db.$executeRaw`UPDATE products SET name = ${'b\u0000'} WHERE id = ${productId}::uuid`,
        '22021',
        true,
      ],
      ['a NUL in text (pg)', () => withPg((c) => c.query('SELECT $1::text', ['c\u0000'])), '22021', true],
      ['an int4 out of range', () => db.product.create(product('BIG', { priceCents: 2 ** 40 })), '22003', true],
      ['not a uuid', () => db.product.findUnique({ where: { id: 'not-a-uuid' } }), '22P02', true],
      ['division by zero', () => db.$queryRaw`SELECT 1 / 0`, '22012', true],
      ['a check constraint', () => db.product.create(product('NEG', { priceCents: -1 })), '23514', true],
      [
        'a not-null constraint',
        () =>
          db.$executeRaw`INSERT INTO products (id, sku, name, price_cents, available, updated_at) VALUES (gen_random_uuid(), 'NN', NULL, 1, 1, now())`,
        '23502',
        true,
      ],
      ['a unique key taken (a race)', () => db.product.create(product('REFUSALS')), '23505', false],
      [
        'a foreign key not there (yet)',
        () => db.stockAdjustment.create({ data: { productId: randomUUID(), delta: 1, reason: 'x' } }),
        '23503',
        false,
      ],
      [
        'a statement timeout',
        () => withPg(async (c) => c.query("SET statement_timeout = '10ms'").then(() => c.query('SELECT pg_sleep(1)'))),
        '57014',
        false,
      ],
    ];
    for (const [name, run, sqlState, deterministic] of cases) {
      const error = await rejectionOf(run());
      expect([name, databaseRefusalOf(error)?.sqlState]).toEqual([name, sqlState]);
      expect([name, deterministicDatabaseRefusalOf(error) !== undefined]).toEqual([name, deterministic]);
    }
    for (const other of [
      new Error('connect ECONNREFUSED 127.0.0.1:5432'),
      Object.assign(new Error('x'), { code: 'EPIPE' }),
    ])
      expect(databaseRefusalOf(other)).toBeUndefined();
  });

  it("fail the activity at once, non-retryable DATA_REJECTED with PostgreSQL's message, instead of retrying for a minute", async () => {
    const inventory = new InventoryService(db);
    const activities = withBusinessFailures({
      createProduct: (name: string) => inventory.createProduct({ sku: 'NUL-2', name, priceCents: 1, available: 1 }),
    });
    const failure = (await rejectionOf(env.run(activities.createProduct, 'Lamp\u0000'))) as ApplicationFailure;
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({ nonRetryable: true, type: 'DATA_REJECTED', details: [{ sqlState: '22021' }] });
    expect(failure.message).toBe(
      'The database refused a value (SQLSTATE 22021): invalid byte sequence for encoding "UTF8": 0x00',
    );
  });

  it("a cancel reason with a NUL fails the order's status write at once (what used to park the order)", async () => {
    const ordersDb = createOrdersDb(dbs.urls.orders);
    try {
      const { createOrder, setOrderStatus } = createOrdersActivities({ orders: new OrdersService(ordersDb) });
      const orderId = randomUUID();
      await env.run(createOrder, {
        orderId,
        customerId: 'alice',
        currency: 'usd',
        lines: [{ productId, sku: 'REFUSALS', name: 'Lamp', quantity: 1, unitPriceCents: 1 }],
      });
      const failure = (await rejectionOf(
        env.run(setOrderStatus, { orderId, status: 'CANCELLED' as const, reason: 'changed my mind\u0000' }),
      )) as ApplicationFailure;
      expect(failure).toMatchObject({ nonRetryable: true, type: 'DATA_REJECTED', details: [{ sqlState: '22021' }] });
      // Nothing was written: the same status change without the NUL goes through.
      const done: { status: string } = await env.run(setOrderStatus, {
        orderId,
        status: 'CANCELLED' as const,
        reason: 'changed my mind',
      });
      expect(done.status).toBe('CANCELLED');
    } finally {
      await ordersDb.$disconnect();
    }
  });
});
