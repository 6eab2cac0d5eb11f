/**
 * The catalogue cache on two API instances over one inventory database, on real HTTP: a price
 * change, a stock adjustment and an order's reservation made anywhere are seen by every instance
 * within a second of their commit; ETag and 304; and a lost LISTEN connection never leaves an
 * instance answering from a catalogue it can no longer hear changes to.
 */
import { randomUUID } from 'node:crypto';
import { Client as PgClient } from 'pg';
import { newProduct as newProductIn } from '../../test/helpers/checkouts';
import { startLiveApis, type LiveApis, type LiveInstance } from '../../test/helpers/live-api';
import { waitUntil } from '../../devstack/waits';

jest.setTimeout(90_000);

/** The product claim: a change reaches every instance within this bound (a correctness bound, not a measurement). */
const VISIBLE_WITHIN_MS = 1_000;

let live: LiveApis;
let one: LiveInstance;
let two: LiveInstance;

beforeAll(async () => {
  live = await startLiveApis({ instances: 2 });
  [one, two] = live.instances as [LiveInstance, LiveInstance];
});
afterAll(async () => live?.close());

interface CatalogueProduct {
  id: string;
  priceCents: number;
  available: number;
  version: number;
}

async function catalogue(instance: LiveInstance, headers: Record<string, string> = {}, query = '') {
  const response = await fetch(`${instance.url}/v1/products${query}`, { headers });
  const text = await response.text();
  return {
    status: response.status,
    etag: response.headers.get('etag'),
    text,
    items: text ? (JSON.parse(text).items as CatalogueProduct[]) : [],
  };
}

async function asAdmin(instance: LiveInstance, method: string, path: string, body: unknown) {
  const response = await fetch(`${instance.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${live.token('catalogue-admin', 'admin')}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(response.status).toBe(200);
  return (await response.json()) as CatalogueProduct;
}

/** Polls the instance's catalogue until the product looks as expected, failing past the bound. */
async function seenWithin(
  instance: LiveInstance,
  productId: string,
  expected: Partial<CatalogueProduct>,
  since: number,
): Promise<void> {
  let product: CatalogueProduct | undefined;
  const shown = async () => {
    product = (await catalogue(instance)).items.find((item) => item.id === productId);
    return (
      !!product && Object.entries(expected).every(([key, value]) => product![key as keyof CatalogueProduct] === value)
    );
  };
  await waitUntil(`${instance.url} to show ${JSON.stringify(expected)}`, shown, {
    timeoutMs: Math.max(0, since + VISIBLE_WITHIN_MS - Date.now()),
    intervalMs: 20,
  }).catch(() => {
    throw new Error(
      `${instance.url} still shows ${JSON.stringify(product)} ${VISIBLE_WITHIN_MS} ms after the change, expected ${JSON.stringify(expected)}`,
    );
  });
}

/** How long a state reached asynchronously (not a timing) may take. */
const EVENTUALLY = { timeoutMs: 10_000, intervalMs: 20 };

const newProduct = (available = 10) => newProductIn(live.workerServices.inventory, 'cat', available, 1_000);

/**
 * Both instances listen and show the product just created, so each has the current catalogue in
 * memory. The creation is a change like any other: an instance may answer from its older page until
 * the announcement arrives, so this waits within the same bound rather than expecting it at once.
 * The bound is a promise of a listening instance: its clock starts at the commit or when the
 * instance is ready (listening), whichever is later, never while it is still connecting.
 */
async function warm(productId: string, createdAt: number) {
  for (const instance of [one, two]) {
    await waitUntil('the instance to listen', async () => instance.catalogue.isListening(), EVENTUALLY);
    const ready = Date.now(); // later than the commit: the product was created before
    await seenWithin(instance, productId, {}, Math.max(createdAt, ready));
  }
}

describe('GET /v1/products on two instances', () => {
  it('shows a price change made through one instance on both within a second', async () => {
    const createdAt = Date.now();
    const product = await newProduct();
    await warm(product.id, createdAt);
    const changed = await asAdmin(one, 'PATCH', `/v1/products/${product.id}`, {
      version: product.version,
      priceCents: 1_234,
    });
    const since = Date.now();
    expect(changed.priceCents).toBe(1_234);
    await Promise.all(
      [one, two].map((instance) =>
        seenWithin(instance, product.id, { priceCents: 1_234, version: changed.version }, since),
      ),
    );
  });

  it('shows a stock adjustment and an order reservation, made anywhere, on both within a second', async () => {
    const createdAt = Date.now();
    const product = await newProduct(10);
    await warm(product.id, createdAt);
    await asAdmin(two, 'POST', `/v1/products/${product.id}/stock`, { delta: 5, reason: 'delivery' });
    let since = Date.now();
    await Promise.all([one, two].map((instance) => seenWithin(instance, product.id, { available: 15 }, since)));

    // The worker's reservation, outside any API instance: the database's own announcement reaches them.
    await live.workerServices.inventory.reserve({
      orderId: randomUUID(),
      lines: [{ productId: product.id, quantity: 4 }],
    });
    since = Date.now();
    await Promise.all([one, two].map((instance) => seenWithin(instance, product.id, { available: 11 }, since)));
  });

  it('answers If-None-Match with its current ETag by 304, and a stale one with the new catalogue', async () => {
    const createdAt = Date.now();
    const product = await newProduct();
    await warm(product.id, createdAt);
    const first = await catalogue(one);
    expect(first.status).toBe(200);
    expect(first.etag).toMatch(/^"[A-Za-z0-9_-]+"$/);
    expect(first.items.some((item) => item.id === product.id)).toBe(true);
    // The same catalogue has the same tag on every instance: a client may revalidate anywhere.
    expect((await catalogue(two)).etag).toBe(first.etag);

    const notModified = await catalogue(two, { 'if-none-match': first.etag! });
    expect(notModified).toMatchObject({ status: 304, text: '', etag: first.etag });
    expect((await catalogue(one, { 'if-none-match': `"other", W/${first.etag}` })).status).toBe(304);

    const changed = await asAdmin(one, 'PATCH', `/v1/products/${product.id}`, {
      version: product.version,
      name: 'Renamed probe',
    });
    const since = Date.now();
    await seenWithin(two, product.id, { version: changed.version }, since);
    const fresh = await catalogue(two, { 'if-none-match': first.etag! });
    expect(fresh.status).toBe(200);
    expect(fresh.etag).not.toBe(first.etag);
    expect(fresh.items.find((item) => item.id === product.id)).toMatchObject({ name: 'Renamed probe' });
  });

  it("tags each page on its own: a change to one page's product leaves another page's ETag as it was", async () => {
    const createdAt = Date.now();
    const products = [await newProduct(), await newProduct()];
    await warm(products[1]!.id, createdAt);
    const firstPage = await catalogue(two, {}, '?limit=1');
    expect(firstPage.items).toHaveLength(1);
    const other = products.find((product) => product.id !== firstPage.items[0]!.id)!;
    const otherPage = await catalogue(two, {}, `?q=${other.sku}`);
    expect(otherPage.items.map((item) => item.id)).toEqual([other.id]);

    const changed = await asAdmin(one, 'PATCH', `/v1/products/${other.id}`, {
      version: other.version,
      priceCents: 777,
    });
    await seenWithin(two, other.id, { priceCents: 777, version: changed.version }, Date.now());
    // Every cached page was dropped and read again; the first page's bytes, hence its tag, are unchanged.
    expect(await catalogue(two, { 'if-none-match': firstPage.etag! }, '?limit=1')).toMatchObject({ status: 304 });
    const otherAgain = await catalogue(two, { 'if-none-match': otherPage.etag! }, `?q=${other.sku}`);
    expect(otherAgain.status).toBe(200);
    expect(otherAgain.items[0]).toMatchObject({ id: other.id, priceCents: 777 });
    expect(two.catalogue.cachedPages()).toBeGreaterThanOrEqual(2);
  });

  it('after losing its LISTEN connection, shows a change made while it could not hear it', async () => {
    const createdAt = Date.now();
    const product = await newProduct();
    await warm(product.id, createdAt);
    const admin = new PgClient({ connectionString: live.dbs.urls.inventory });
    await admin.connect();
    try {
      const { rows } = await admin.query<{ killed: boolean }>(
        'SELECT pg_terminate_backend(pid) AS killed FROM pg_stat_activity WHERE application_name = $1',
        [two.catalogueApplicationName],
      );
      expect(rows).toEqual([{ killed: true }]);
      await waitUntil(
        'instance two to notice the lost connection',
        async () => !two.catalogue.isListening(),
        EVENTUALLY,
      );
      // Committed while instance two listens to nothing: its announcement is lost to it.
      await live.workerServices.inventory.updateProduct(product.id, { version: product.version, priceCents: 4_321 });
      expect((await catalogue(two)).items.find((item) => item.id === product.id)).toMatchObject({ priceCents: 4_321 });
      await waitUntil('instance two to listen again', async () => two.catalogue.isListening(), EVENTUALLY);
      expect((await catalogue(two)).items.find((item) => item.id === product.id)).toMatchObject({ priceCents: 4_321 });
      // And it hears changes again.
      const again = await live.workerServices.inventory.updateProduct(product.id, {
        version: product.version + 1,
        priceCents: 5_555,
      });
      await seenWithin(two, product.id, { priceCents: 5_555, version: again.version }, Date.now());
    } finally {
      await admin.end();
    }
  });
});
