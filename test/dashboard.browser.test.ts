/**
 * The dashboard in headless Chromium against the real API (real databases, Temporal workers,
 * seeded demo data): a new customer signs up, checks out and pays with the status following
 * the saga live; orders placed and cancelled elsewhere change live; usage past the free limit
 * recorded by another client shows a toast and the bell's count without a reload;
 * after signing out and in again the unread notifications are listed. A demo customer is one
 * click away. Screenshots go to test/artifacts/.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { seedDemoData } from '../devstack/seed';
import { useDashboard } from './helpers/dashboard';

const ARTIFACTS = path.resolve(__dirname, 'artifacts');
/**
 * A hang guard, not a speed target: the notification must arrive on the open page, without a
 * reload. How fast it arrives (the 2 s goal) is the `sse` benchmark's measurement, since a busy
 * 2-core machine can take longer than that without anything being wrong.
 */
const LIVE_ARRIVAL_GUARD_MS = 30_000;

jest.setTimeout(120_000);

const dashboard = useDashboard({ prepare: (dbs) => seedDemoData(dbs.urls).then(() => undefined) });
const { pageErrors } = dashboard;

beforeAll(() => mkdirSync(ARTIFACTS, { recursive: true }));

test('a new customer signs up, shops and pays live, sees a quota alert live, and finds it unread after signing out and in again', async () => {
  const email = `dana.${Date.now().toString(36)}@example.com`;
  const password = 'dana shops a lot';
  let page = await dashboard.open();
  await page.locator('#signed-out').waitFor();
  await dashboard.signInThroughForm(page, 'signup', email, password);
  await page.locator('#user-name', { hasText: email }).waitFor();
  await page.locator('.meter[data-resource="builds"] .meter-value', { hasText: '0 / 100' }).waitFor();
  await page.locator('#bell-count').waitFor({ state: 'hidden' });
  const other = await dashboard.signInAsClient(email, password);

  // Shop: two items, check out, pay; the status follows the saga live.
  await page.locator('.product[data-sku="MUG-LOGO"] button').click();
  await page.locator('.product[data-sku="TEE-BLACK-M"] button').click();
  await page.locator('#cart .cart-item').nth(1).waitFor();
  await page.locator('#checkout').click();
  const row = page.locator('#orders-body tr').first();
  await row.locator('.status', { hasText: 'Awaiting payment' }).waitFor({ timeout: 15_000 });
  await row.locator('button', { hasText: 'Pay' }).click();
  await row.locator('.status', { hasText: 'Completed' }).waitFor({ timeout: 20_000 });
  await page.locator('.toast', { hasText: 'completed' }).first().waitFor({ timeout: 5_000 });
  await page.locator('#cart-empty').waitFor({ timeout: 10_000 });
  await page.locator('.meter[data-resource="orders"] .meter-value', { hasText: '1 / 20' }).waitFor({ timeout: 5_000 });

  // Orders placed and cancelled elsewhere (another tab, the API) show up and change live.
  const product = (await other.call('GET', '/v1/products')).body.items.find(
    (p: { sku: string }) => p.sku === 'STICKER-PACK',
  );
  const placed = await other.call('POST', '/v1/orders', { items: [{ productId: product.id, quantity: 3 }] });
  expect(placed.status).toBe(201);
  const otherRow = page.locator(`#orders-body tr[data-order-id="${placed.body.id}"]`);
  await otherRow.locator('.status', { hasText: 'Awaiting payment' }).waitFor({ timeout: 10_000 });
  expect((await other.call('POST', `/v1/orders/${placed.body.id}/cancel`, {})).status).toBe(200);
  await otherRow.locator('.status', { hasText: 'Cancelled' }).waitFor({ timeout: 10_000 });

  // Another client (a build server, say) records builds: 90 of 100 brings the 80 % warning...
  await other.call('POST', '/v1/usage', { resource: 'builds', quantity: 90, idempotencyKey: 'ci-run-1' });
  await page.locator('#bell-count', { hasText: /^1$/ }).waitFor({ timeout: 10_000 });
  // ... and 11 more go past the free plan's limit: told on the open page, without a reload.
  const sentAt = Date.now();
  const recorded = await other.call('POST', '/v1/usage', {
    resource: 'builds',
    quantity: 11,
    idempotencyKey: 'ci-run-2',
  });
  expect(recorded).toMatchObject({ status: 200, body: { used: 101, limit: 100, overLimit: true } });

  await page
    .locator('.toast', { hasText: 'over your builds limit' })
    .waitFor({ state: 'visible', timeout: LIVE_ARRIVAL_GUARD_MS });
  await page.locator('#bell-count', { hasText: /^2$/ }).waitFor({ state: 'visible', timeout: LIVE_ARRIVAL_GUARD_MS });
  console.log(`dashboard: usage recorded by another client to toast and bell updated: ${Date.now() - sentAt} ms`);
  await page
    .locator('.meter[data-resource="builds"][data-level="over"] .meter-value', { hasText: '101 / 100' })
    .waitFor({ timeout: 5_000 });
  await page.locator('#over-banner', { hasText: 'over your free plan' }).waitFor();
  await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-live.png') });

  // Sign out: the dashboard is gone and the session with it; the stream closes.
  await page.locator('#sign-out').click();
  await page.locator('#signed-out').waitFor();
  await page.locator('#signed-in').waitFor({ state: 'hidden' });
  expect((await page.context().cookies()).map((cookie) => cookie.name)).not.toContain('sf_session');

  // Sign in again, in a browser opened anew on the same profile: the alerts are listed unread.
  await dashboard.closeBrowser();
  page = await dashboard.open();
  await page.locator('#signed-out').waitFor();
  await dashboard.signInThroughForm(page, 'signin', email.toUpperCase(), password);
  const unread = page.locator('#inbox .notification.unread');
  await unread.filter({ hasText: 'over your builds limit' }).waitFor({ timeout: 10_000 });
  expect(await unread.count()).toBe(2);
  await page.locator('#bell-count', { hasText: /^2$/ }).waitFor();
  await page.locator('#orders-body tr .status', { hasText: 'Completed' }).waitFor();
  await page.locator('#orders-body tr .status', { hasText: 'Cancelled' }).waitFor();
  await page.locator('#bell').click();
  await page.locator('#bell-panel .notification').first().waitFor();
  await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-reopened.png') });

  // Reading one lowers the count, here and on the server.
  await page.keyboard.press('Escape');
  await unread.filter({ hasText: 'over your builds limit' }).click();
  await page.locator('#bell-count', { hasText: /^1$/ }).waitFor();
  expect((await other.call('GET', '/v1/notifications?unread=true')).body.unreadCount).toBe(1);
  await page.locator('#mark-all').click();
  await page.locator('#bell-count').waitFor({ state: 'hidden' });
  await page.locator('#inbox-empty').waitFor();
  expect((await other.call('GET', '/v1/notifications?unread=true')).body.unreadCount).toBe(0);

  expect(pageErrors).toEqual([]);
});

test('carol, a demo customer one click away, seeded at 130 of 100 builds, sees that she is over her plan', async () => {
  await dashboard.closeBrowser();
  // The browser reopened on the profile is still signed in (the session cookie persists); sign out first.
  const page = await dashboard.open();
  await page.locator('#signed-in').waitFor();
  await page.locator('#sign-out').click();
  await page.locator('.demo-user[data-user="carol"]').click();
  await page
    .locator('.meter[data-resource="builds"][data-level="over"] .meter-value', { hasText: '130 / 100' })
    .waitFor({ timeout: 10_000 });
  await page.locator('.meter[data-resource="builds"] .meter-note', { hasText: '30 over' }).waitFor();
  await page.locator('#over-banner', { hasText: '130 of 100 builds' }).waitFor();
  await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-carol.png') });
  expect(pageErrors).toEqual([]);
});
