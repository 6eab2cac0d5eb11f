/**
 * Refunds after the sale in the dashboard, in headless Chromium against the real API (real
 * databases, Temporal workers, stripe-mock): a customer opens a paid order's page and reads its
 * timeline; an admin, in a browser of their own, finds the order in the all-orders view (those that
 * need attention first), refunds a unit from its page with a double click, and the customer's open
 * page shows the refund and the new status without a reload; one refund, not two. Then the rest,
 * and the order is refunded in full. Screenshots go to test/artifacts/ (docs/order-page.png is one).
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { seedDemoData } from '../devstack/seed';
import { waitUntil } from '../devstack/waits';
import { seedOrder } from '../harness/scale-seed';
import { useDashboard } from './helpers/dashboard';

const ARTIFACTS = path.resolve(__dirname, 'artifacts');
/** A hang guard for what arrives over the live stream, not a speed target. */
const LIVE_GUARD_MS = 30_000;
/** A paid order's timeline, as its page titles the steps. */
const SOLD = ['Order placed', 'Stock reserved, awaiting payment', 'Paid', 'Completed'];

jest.setTimeout(180_000);

const dashboard = useDashboard({ prepare: (dbs) => seedDemoData(dbs.urls).then(() => undefined) });

beforeAll(() => mkdirSync(ARTIFACTS, { recursive: true }));

test('an admin refunds from the dashboard; the customer sees it on the open order page, live', async () => {
  const run = Date.now().toString(36);
  const { workerServices } = dashboard.live;

  // An older order stuck in NEEDS_ATTENTION (a failed compensation) belongs to someone else.
  const mug = (await workerServices.inventory.getProduct('8f1c0d2e-0000-4000-8000-000000000003'))!;
  const stuck = await seedOrder(workerServices, `stuck-${run}`, mug);
  await workerServices.orders.transition({ orderId: stuck.id, to: 'NEEDS_ATTENTION', reason: 'release failed' });

  // The customer buys two mugs and a tee, and pays.
  const email = `rosa.${run}@example.com`;
  const password = 'rosa returns things';
  await dashboard.signUp(email, password);
  const customer = await dashboard.signInAsClient(email, password);
  const products = (await customer.call('GET', '/v1/products')).body.items as { id: string; sku: string }[];
  const tee = products.find((product) => product.sku === 'TEE-BLACK-M')!;
  const placed = await customer.call('POST', '/v1/orders', {
    items: [
      { productId: mug.id, quantity: 2 },
      { productId: tee.id, quantity: 1 },
    ],
  });
  expect(placed.status).toBe(201);
  const orderId: string = placed.body.id;
  expect((await customer.call('POST', `/v1/orders/${orderId}/payment`, { paymentMethod: 'pm_card_visa' })).status).toBe(
    200,
  );
  await waitUntil('the order to complete', async () => {
    return (await customer.call('GET', `/v1/orders/${orderId}`)).body.status === 'COMPLETED';
  });

  // The customer opens the order from the history: its lines, totals and timeline.
  const page = await dashboard.open();
  await dashboard.signInThroughForm(page, 'signin', email, password);
  await page.locator(`#orders-body tr[data-order-id="${orderId}"]`).click();
  await page.locator('#order-status', { hasText: 'Completed' }).waitFor();
  expect(new URL(page.url()).hash).toBe(`#order/${orderId}`);
  await page.locator('#order-total', { hasText: '$45.97' }).waitFor();
  await page.locator('#order-refunded', { hasText: '$0.00' }).waitFor();
  expect(await page.locator('#order-timeline .timeline-title').allTextContents()).toEqual(SOLD);
  await page.locator('#refund-panel').waitFor({ state: 'hidden' });
  // What a reload would lose: the refund must reach this very page.
  await page.evaluate(() => Object.assign(globalThis, { openSinceBefore: true }));

  // An admin, in a browser of their own: the order that needs attention first, then the customer's by email.
  const adminEmail = `ops.${run}@example.com`;
  await dashboard.signUp(adminEmail, 'ops refund with care');
  await workerServices.accounts.setRole(adminEmail, 'admin');
  const admin = await dashboard.open('/', 'admin');
  await dashboard.signInThroughForm(admin, 'signin', adminEmail, 'ops refund with care');
  const adminRows = admin.locator('#admin-orders-body tr');
  await admin.locator(`#admin-orders-body tr[data-order-id="${orderId}"]`).waitFor();
  expect(await adminRows.first().getAttribute('data-order-id')).toBe(stuck.id);
  await admin.locator('#admin-customer').fill(email.toUpperCase());
  await admin.locator('#admin-search-submit').click();
  await admin.locator(`#admin-orders-body tr[data-order-id="${stuck.id}"]`).waitFor({ state: 'detached' });
  expect(await adminRows.evaluateAll((rows) => rows.map((row) => row.getAttribute('data-order-id')))).toEqual([
    orderId,
  ]);

  // One mug back, restocked, sent with a double click.
  await adminRows.first().click();
  await admin.locator('#refund-form').waitFor();
  await admin.locator('input[name="refund-mode"][value="lines"]').check();
  await admin.locator(`.refund-line input[data-product-id="${mug.id}"]`).fill('1');
  await admin.locator('#refund-restock').check();
  await admin.locator('#refund-reason').fill('Arrived chipped');
  await admin.locator('#refund-submit').dblclick();
  await admin.locator('#refund-message', { hasText: 'Refunded $12.99.' }).waitFor({ timeout: LIVE_GUARD_MS });
  await admin.locator('#order-status', { hasText: 'Partly refunded' }).waitFor({ timeout: LIVE_GUARD_MS });

  // The customer's open page follows, without a reload.
  await page.locator('#order-status', { hasText: 'Partly refunded' }).waitFor({ timeout: LIVE_GUARD_MS });
  await page.locator('#order-refunded', { hasText: '$12.99' }).waitFor();
  const refundEntry = page.locator('#order-timeline .timeline-entry[data-kind="refund"]');
  await refundEntry.filter({ hasText: 'Refund of $12.99' }).filter({ hasText: '1 × Logo mug' }).waitFor();
  await refundEntry.filter({ hasText: 'Arrived chipped' }).waitFor();
  await page.locator('.toast', { hasText: 'Refund of $12.99' }).first().waitFor();
  expect(await page.evaluate(() => (globalThis as { openSinceBefore?: boolean }).openSinceBefore)).toBe(true);
  await page.screenshot({ path: path.join(ARTIFACTS, 'order-page.png'), fullPage: true });

  await admin.screenshot({ path: path.join(ARTIFACTS, 'order-page-admin.png'), fullPage: true });

  // The double click refunded once.
  const afterFirst = (await customer.call('GET', `/v1/orders/${orderId}`)).body;
  expect(afterFirst).toMatchObject({ status: 'PARTIALLY_REFUNDED', refundedCents: 1_299 });
  expect(afterFirst.refunds).toHaveLength(1);

  // Everything left: the order is refunded in full, on both pages.
  await admin.locator('#refund-reason').fill('Customer changed their mind');
  await admin.locator('#refund-submit').click();
  await admin.locator('#refund-message', { hasText: 'Refunded $32.98.' }).waitFor({ timeout: LIVE_GUARD_MS });
  await page.locator('#order-status', { hasText: /^Refunded$/ }).waitFor({ timeout: LIVE_GUARD_MS });
  await page.locator('#order-refunded', { hasText: '$45.97' }).waitFor();
  expect(await page.locator('#order-timeline .timeline-title').allTextContents()).toEqual([
    ...SOLD,
    'Refund of $12.99',
    'Partly refunded',
    'Refund of $32.98',
    'Refunded in full',
  ]);
  await admin.locator('#refund-panel').waitFor({ state: 'hidden' });

  // The browser's back button returns to the dashboard.
  await page.goBack();
  await page.locator(`#orders-body tr[data-order-id="${orderId}"] .status`, { hasText: /^Refunded$/ }).waitFor();
  expect(dashboard.pageErrors).toEqual([]);
});
