/**
 * Every list pages by a key that an index returns in order (lib/paging.ts), so a page reads
 * limit + 1 rows whatever the table's size. Here each list's query, as the service sends it, is
 * planned with sorting and sequential scans priced out: it must come out as a scan of the index
 * that serves it and sort nothing. Without that index the plan sorts every matching row to keep a
 * page of them, which is what made an admin's orders page slower with every order placed.
 */
import { Client } from 'pg';
import { createTestDatabases, type TestDatabases } from '../test/helpers/databases';

interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  Plans?: PlanNode[];
}

function nodes(plan: PlanNode): PlanNode[] {
  return [plan, ...(plan.Plans ?? []).flatMap(nodes)];
}

let databases: TestDatabases;

beforeAll(async () => {
  databases = await createTestDatabases(['inventory', 'orders', 'notifications']);
});

afterAll(async () => {
  await databases?.dispose();
});

/** The plan's node types and the indexes it scans, when the planner avoids sorts and sequential scans wherever it can. */
async function planOf(url: string, sql: string): Promise<{ types: string[]; indexes: string[] }> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('SET enable_sort = off');
    await client.query('SET enable_incremental_sort = off');
    await client.query('SET enable_seqscan = off');
    const { rows } = await client.query<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>(`EXPLAIN (FORMAT JSON) ${sql}`);
    const all = nodes(rows[0]!['QUERY PLAN'][0]!.Plan);
    return {
      types: all.map((node) => node['Node Type']),
      indexes: all.flatMap((node) => (node['Index Name'] ? [node['Index Name']] : [])),
    };
  } finally {
    await client.end();
  }
}

const CURSOR_AT = `'2026-12-07T12:00:00.000Z'::timestamptz`;
const CURSOR_ID = `'5b0e4a1c-0000-4000-8000-000000000000'::uuid`;
/** The orders' cursor condition as the orders service writes it: (created_at, id) before the cursor's. */
const BEFORE_CURSOR = `created_at <= ${CURSOR_AT} AND (created_at < ${CURSOR_AT} OR id < ${CURSOR_ID})`;
const NEWEST_FIRST = 'ORDER BY created_at DESC, id DESC LIMIT 51';

const lists: Array<{ list: string; service: 'inventory' | 'orders' | 'notifications'; sql: string; index: string }> = [
  {
    list: 'the catalogue, first page',
    service: 'inventory',
    sql: 'SELECT * FROM products ORDER BY sku ASC LIMIT 51',
    index: 'products_sku_key',
  },
  {
    list: 'the catalogue after a cursor, in stock only',
    service: 'inventory',
    sql: `SELECT * FROM products WHERE sku > 'SKU-000500' AND available > 0 ORDER BY sku ASC LIMIT 51`,
    index: 'products_sku_key',
  },
  {
    list: "a customer's orders, first page",
    service: 'orders',
    sql: `SELECT * FROM orders WHERE customer_id = 'alice' ${NEWEST_FIRST}`,
    index: 'orders_customer_id_created_at_id_idx',
  },
  {
    list: "a customer's orders after a cursor",
    service: 'orders',
    sql: `SELECT * FROM orders WHERE customer_id = 'alice' AND ${BEFORE_CURSOR} ${NEWEST_FIRST}`,
    index: 'orders_customer_id_created_at_id_idx',
  },
  {
    list: "an admin's orders across customers after a cursor",
    service: 'orders',
    sql: `SELECT * FROM orders WHERE ${BEFORE_CURSOR} ${NEWEST_FIRST}`,
    index: 'orders_created_at_id_idx',
  },
  {
    list: "an admin's orders of one status after a cursor",
    service: 'orders',
    sql: `SELECT * FROM orders WHERE status = 'PAID' AND ${BEFORE_CURSOR} ${NEWEST_FIRST}`,
    index: 'orders_status_created_at_id_idx',
  },
  {
    list: "a user's notifications after a cursor",
    service: 'notifications',
    sql: `SELECT * FROM notifications WHERE user_id = 'alice' AND sequence < 500 ORDER BY sequence DESC LIMIT 51`,
    index: 'notifications_user_id_sequence_key',
  },
];

it.each(lists)('reads $list from an index in page order, sorting nothing', async ({ service, sql, index }) => {
  const plan = await planOf(databases.urls[service], sql);
  expect(plan.indexes).toEqual([index]);
  expect(plan.types.filter((type) => /Sort|Seq Scan/.test(type))).toEqual([]);
});
