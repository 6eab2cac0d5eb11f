/**
 * The dashboard at a real shop's size, in headless Chromium against the real API: a catalogue of
 * 3,000 products and a customer with 25 orders, seeded through the services
 * (harness/scale-seed.ts). The catalogue shows a page and more on demand, searches by name or
 * SKU and filters to what is in stock; the order history shows the newest and older ones on
 * demand; a product found by search goes into the cart under its name.
 */
import type { Page } from 'playwright-core';
import { randomUUID } from 'node:crypto';
import { useDashboard } from './helpers/dashboard';
import { seedCatalogue, seedOrders } from '../harness/scale-seed';
import type { ProductView } from '../services/inventory/inventory.service';

jest.setTimeout(180_000);

const CATALOGUE_SIZE = 3_000;
/** Cards per page and orders per page, as the dashboard asks for them (web/js/catalogue.js, web/js/orders.js). */
const PRODUCTS_PAGE = 24;
const ORDERS_PAGE = 10;

const dashboard = useDashboard();
let products: ProductView[];
const prefix = `BIG${randomUUID().slice(0, 4).toUpperCase()}`;

beforeAll(async () => {
  products = await seedCatalogue(dashboard.live.workerServices.inventory, { count: CATALOGUE_SIZE, prefix });
}, 5 * 60_000);

async function openSignedIn(): Promise<Page> {
  const email = `erin.${Date.now().toString(36)}@example.com`;
  const password = 'erin browses a lot';
  const customerId = await dashboard.signUp(email, password);
  await seedOrders(dashboard.live.workerServices, { customerId, count: 25, products: products.slice(0, 5) });
  const page = await dashboard.open();
  await dashboard.signInThroughForm(page, 'signin', email, password);
  return page;
}

const sku = (index: number) => `${prefix}-${String(index).padStart(6, '0')}`;

test('pages, searches and filters a catalogue of thousands, and pages the order history', async () => {
  const page = await openSignedIn();
  const cards = page.locator('#products .product');

  // A page of the catalogue, in SKU order, and the next one on demand.
  await cards.nth(PRODUCTS_PAGE - 1).waitFor();
  expect(await cards.count()).toBe(PRODUCTS_PAGE);
  expect(await cards.first().getAttribute('data-sku')).toBe(sku(0));
  await page.locator('#products-note', { hasText: `${PRODUCTS_PAGE}+ products` }).waitFor();
  await page.locator('#products-more').click();
  await cards.nth(2 * PRODUCTS_PAGE - 1).waitFor();
  expect(await cards.nth(PRODUCTS_PAGE).getAttribute('data-sku')).toBe(sku(PRODUCTS_PAGE));

  // A search by SKU finds the one product, far beyond the pages loaded; it goes into the cart by name.
  await page.locator('#product-search').fill(sku(2_345).toLowerCase());
  await page.locator(`#products .product[data-sku="${sku(2_345)}"]`).waitFor();
  expect(await cards.count()).toBe(1);
  await page.locator('#products-more').waitFor({ state: 'hidden' });
  await page.locator(`#products .product[data-sku="${sku(2_345)}"] button`).click();
  await page.locator('#cart .cart-item', { hasText: products[2_345]!.name }).waitFor();

  // A search by name: 30 of the 3,000 are "Cedar lamp …" (harness/scale-seed.ts), a page and the rest.
  await page.locator('#product-search').fill('cedar LAMP');
  await page.locator('#products-note', { hasText: `${PRODUCTS_PAGE}+ found` }).waitFor();
  await page.locator('#products-more').click();
  await page.locator('#products-note', { hasText: '30 found' }).waitFor();
  const names = await page.locator('#products .product-name').allTextContents();
  expect(names).toHaveLength(30);
  expect(names.filter((name) => !name.startsWith('Cedar lamp'))).toEqual([]);
  await page.locator('#products-more').waitFor({ state: 'hidden' });

  // Every "Slate …" product is sold out: in stock only, none is left.
  await page.locator('#product-search').fill('slate');
  await page.locator('#products-note', { hasText: `${PRODUCTS_PAGE}+ found` }).waitFor();
  await page.locator('#product-in-stock').check();
  await page.locator('#products-empty', { hasText: 'Nothing matches “slate”.' }).waitFor();
  expect(await cards.count()).toBe(0);

  // The order history: the newest ten, then older ones until there are no more.
  const rows = page.locator('#orders-body tr');
  await rows.nth(ORDERS_PAGE - 1).waitFor();
  expect(await rows.count()).toBe(ORDERS_PAGE);
  await page.locator('#orders-more').click();
  await rows.nth(2 * ORDERS_PAGE - 1).waitFor();
  await page.locator('#orders-more').click();
  await rows.nth(24).waitFor();
  await page.locator('#orders-more').waitFor({ state: 'hidden' });
  expect(await rows.count()).toBe(25);
  const ids = await rows.evaluateAll((elements) => elements.map((element) => element.getAttribute('data-order-id')));
  expect(new Set(ids).size).toBe(25);

  expect(dashboard.pageErrors).toEqual([]);
});
