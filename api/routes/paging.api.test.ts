/**
 * Every list pages with a cursor (lib/paging.ts): the catalogue (searched and filtered), a
 * customer's orders (by status), the admins' list of every customer's orders and the
 * notifications. Walked page by page while rows are added, a list never repeats a row and never
 * skips one that was there when the walk began. Data is seeded through the services
 * (harness/scale-seed.ts), the stock ledger included.
 */
import { randomUUID } from 'node:crypto';
import { useApiHarness } from '../../test/helpers/api';
import { seedCatalogue, seedOrder, seedOrders } from '../../harness/scale-seed';
import { MAX_PAGE_LIMIT } from '../../lib/paging';
import type { ProductView } from '../../services/inventory/inventory.service';

jest.setTimeout(240_000);

const api = useApiHarness();

interface Listed {
  status: number;
  body: { items: Record<string, unknown>[]; nextCursor: string | null; error?: { code: string } };
}

async function get(url: string, userId = 'paging-reader', role: 'user' | 'admin' = 'user'): Promise<Listed> {
  const response = await api.as(userId, { method: 'GET', url }, role);
  return { status: response.statusCode, body: response.json() };
}

/**
 * Reads every page of `path` (which has its own query, or none), calling `between` after each page
 * so a test can add rows while the walk is under way; answers the pages' items in order.
 */
async function walk(
  path: string,
  options: {
    limit: number;
    userId?: string;
    role?: 'user' | 'admin';
    between?: (page: number, last: Record<string, unknown>) => Promise<void>;
  },
): Promise<Record<string, unknown>[]> {
  const seen: Record<string, unknown>[] = [];
  let cursor: string | null = null;
  for (let page = 0; ; page++) {
    const separator = path.includes('?') ? '&' : '?';
    const url = `${path}${separator}limit=${options.limit}${cursor ? `&cursor=${cursor}` : ''}`;
    const { status, body } = await get(url, options.userId, options.role);
    expect([url, status]).toEqual([url, 200]);
    expect(body.items.length).toBeLessThanOrEqual(options.limit);
    seen.push(...body.items);
    cursor = body.nextCursor;
    if (cursor === null) return seen;
    // A page that says there is more is full: the list is not cut short anywhere but at its end.
    expect(body.items).toHaveLength(options.limit);
    await options.between?.(page, body.items[body.items.length - 1]!);
    if (page > 1_000) throw new Error(`${path}: more than 1,000 pages`);
  }
}

function expectNoRepeats(ids: unknown[]): void {
  expect(new Set(ids).size).toBe(ids.length);
}

describe('GET /v1/products', () => {
  const prefix = `PAGE${randomUUID().slice(0, 4).toUpperCase()}`;
  let seeded: ProductView[];
  beforeAll(async () => {
    seeded = await seedCatalogue(api.services.inventory, { count: 1_000, prefix });
  });

  it('walks 1,000 products page by page in SKU order, with no gap or repeat while products are added', async () => {
    const before = (await api.services.inventory.listProducts()).map((product) => product.sku);
    expect(before.length).toBeGreaterThanOrEqual(1_000);
    const ahead: string[] = [];
    const behind: string[] = [];
    const items = await walk('/v1/products', {
      limit: 37,
      between: async (page, last) => {
        // One product sorting just after one already sent, one far ahead: the walk must reach the
        // latter (it is ahead of the cursor) and must not send the former (it is behind it).
        // SKUs of one shape (prefix, six digits, a letter) compare alike in any collation.
        const sent = Number(String(last.sku).slice(prefix.length + 1, prefix.length + 7));
        const added = [
          `${prefix}-${String(sent - 1).padStart(6, '0')}A`,
          `${prefix}-${String(999 - page).padStart(6, '0')}Z`,
        ];
        for (const sku of added) {
          await api.services.inventory.createProduct({ sku, name: `Added ${sku}`, priceCents: 500, available: 3 });
          (999 - page >= sent && sku.endsWith('Z') ? ahead : behind).push(sku);
        }
      },
    });
    const skus = items.map((item) => item.sku as string);
    expectNoRepeats(skus);
    expect([...skus].sort()).toEqual(skus);
    // Nothing there at the start is missing, nothing added behind the cursor is sent, everything added ahead is.
    expect(skus.filter((sku) => !ahead.includes(sku))).toEqual(before);
    for (const sku of ahead) expect(skus).toContain(sku);
    expect(ahead.length).toBeGreaterThan(5);
    expect(behind.length).toBeGreaterThan(20);
  });

  it('searches the name and the SKU, case-insensitively, and filters by availability, all paged', async () => {
    // seededProductName: index % 10 === 5 is "Glass …"; index % 10 === 9 ("Slate …") is sold out.
    const glass = await walk(`/v1/products?q=gLaSs&available=true`, { limit: MAX_PAGE_LIMIT });
    const expected = seeded.filter((product) => product.name.startsWith('Glass')).map((product) => product.sku);
    expect(glass.map((item) => item.sku)).toEqual(expected);
    expect(glass).toHaveLength(100);
    expect((await get('/v1/products?q=slate&available=true')).body.items).toEqual([]);
    const soldOut = await walk(`/v1/products?q=${prefix}&available=false`, { limit: 30 });
    expect(soldOut.map((item) => item.sku)).toEqual(
      seeded.filter((product) => product.available === 0).map((product) => product.sku),
    );
    expect(soldOut).toHaveLength(100);
    const bySku = await get(`/v1/products?q=${seeded[412]!.sku.toLowerCase()}`);
    expect(bySku.body.items.map((item) => item.sku)).toEqual([seeded[412]!.sku]);
    expect(bySku.body.nextCursor).toBeNull();
  });

  it('takes the text of a search literally: LIKE wildcards match only themselves', async () => {
    const sku = `${prefix}-WILD`;
    await api.services.inventory.createProduct({ sku, name: '100% wool_rug', priceCents: 900, available: 1 });
    expect((await get('/v1/products?q=%25%20wool_')).body.items.map((item) => item.sku)).toEqual([sku]);
    expect((await get('/v1/products?q=0%25_w')).body.items).toEqual([]);
    expect((await get('/v1/products?q=_')).body.items.map((item) => item.sku)).toEqual([sku]);
  });

  it(`answers ${50} by default and at most ${MAX_PAGE_LIMIT}; refuses a bigger limit and a cursor no answer gave`, async () => {
    const first = await get('/v1/products');
    expect(first.body.items).toHaveLength(50);
    expect(typeof first.body.nextCursor).toBe('string');
    expect((await get(`/v1/products?limit=${MAX_PAGE_LIMIT}`)).body.items).toHaveLength(MAX_PAGE_LIMIT);
    for (const query of [`limit=${MAX_PAGE_LIMIT + 1}`, 'limit=0', 'limit=-3', 'limit=2.5', 'cursor=%20', 'q=']) {
      const refused = await get(`/v1/products?${query}`);
      expect([query, refused.status, refused.body.error?.code]).toEqual([query, 400, 'VALIDATION_FAILED']);
    }
    const ordersCursor = Buffer.from(JSON.stringify(['o', new Date().toISOString(), randomUUID()])).toString(
      'base64url',
    );
    for (const cursor of ['bm90LWpzb24', Buffer.from('["p",7]').toString('base64url'), ordersCursor]) {
      const refused = await get(`/v1/products?cursor=${cursor}`);
      expect([refused.status, refused.body.error?.code]).toEqual([400, 'INVALID_CURSOR']);
    }
  });
});

describe('GET /v1/orders', () => {
  const customer = `pager-${randomUUID().slice(0, 8)}`;
  const other = `other-${randomUUID().slice(0, 8)}`;
  let products: ProductView[];
  beforeAll(async () => {
    products = await seedCatalogue(api.services.inventory, { count: 12, prefix: `ORD${randomUUID().slice(0, 4)}` });
    await seedOrders(api.services, { customerId: customer, count: 120, products });
    await seedOrders(api.services, { customerId: other, count: 5, products });
  });

  it('walks 120 orders newest first, with no gap or repeat while orders are placed', async () => {
    const before = (await api.services.orders.listPage({ customerId: customer, limit: MAX_PAGE_LIMIT })).items;
    const placed: string[] = [];
    const items = await walk('/v1/orders', {
      limit: 11,
      userId: customer,
      between: async () => {
        placed.push((await seedOrder(api.services, customer, products[0]!)).id);
      },
    });
    const ids = items.map((item) => item.id as string);
    expectNoRepeats(ids);
    expect(ids).toHaveLength(120);
    expect(ids.slice(0, before.length)).toEqual(before.map((order) => order.id));
    const times = items.map((item) => Date.parse(item.createdAt as string));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    // Placed while walking: newer than every cursor, so on the next first page, not in this walk.
    expect(placed.some((id) => ids.includes(id))).toBe(false);
    const fresh = await get(`/v1/orders?limit=${placed.length}`, customer);
    expect(fresh.body.items.map((item) => item.id)).toEqual([...placed].reverse());
  });

  it("filters by status, and shows nobody else's orders", async () => {
    const orders = (await api.services.orders.listPage({ customerId: customer, limit: 30 })).items;
    const waiting = orders.filter((_, index) => index % 3 === 0);
    for (const order of waiting) await api.services.orders.transition({ orderId: order.id, to: 'AWAITING_PAYMENT' });
    const listed = await walk('/v1/orders?status=AWAITING_PAYMENT', { limit: 4, userId: customer });
    expect(listed.map((item) => item.id)).toEqual(waiting.map((order) => order.id));
    expect(listed.every((item) => item.status === 'AWAITING_PAYMENT')).toBe(true);
    expect((await get('/v1/orders?status=SHIPPED', customer)).status).toBe(400);
    const others = await walk('/v1/orders', { limit: 50, userId: other });
    expect(others).toHaveLength(5);
  });

  it("lists every customer's orders for admins only; a customer asking is refused", async () => {
    const all = await walk('/v1/orders?scope=all', { limit: 40, userId: 'paging-admin', role: 'admin' });
    const customers = new Set(all.map((item) => item.id));
    expectNoRepeats([...customers]);
    const ownersOf = await Promise.all(all.map((item) => api.services.orders.get(item.id as string)));
    expect(new Set(ownersOf.map((order) => order!.customerId))).toEqual(new Set([customer, other]));
    const ofOther = await walk(`/v1/orders?scope=all&customerId=${other}`, {
      limit: 2,
      userId: 'paging-admin',
      role: 'admin',
    });
    expect(ofOther).toHaveLength(5);
    for (const url of [
      '/v1/orders?scope=all',
      `/v1/orders?scope=all&customerId=${other}`,
      `/v1/orders?customerId=${other}`,
    ]) {
      const refused = await get(url, customer);
      expect([url, refused.status, refused.body.error?.code]).toEqual([url, 403, 'FORBIDDEN']);
    }
  });
});

describe('GET /v1/notifications', () => {
  it('walks a user’s notifications newest first, with no gap or repeat while new ones arrive', async () => {
    const userId = `noticed-${randomUUID().slice(0, 8)}`;
    const persist = (index: number) =>
      api.services.notifications.persist({
        userId,
        type: 'quota.warning',
        payload: { index },
        dedupeKey: `paging-${index}`,
      });
    for (let index = 0; index < 60; index++) await persist(index);
    let next = 60;
    const items = await walk('/v1/notifications', {
      limit: 7,
      userId,
      between: async () => {
        await persist(next++);
      },
    });
    expect(items.map((item) => item.sequence)).toEqual(Array.from({ length: 60 }, (_, index) => 60 - index));
    const unread = await walk('/v1/notifications?unread=true', { limit: MAX_PAGE_LIMIT, userId });
    expect(unread).toHaveLength(next);
    expect((await get('/v1/notifications?limit=101', userId)).status).toBe(400);
  });
});
