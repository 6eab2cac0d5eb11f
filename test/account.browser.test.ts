/**
 * The browser tier, the account's life: a customer who forgot their password asks the dashboard
 * for a link, receives it in Mailpit (the real SMTP server of the test run), opens it, chooses a
 * new password there and signs in with it; the old one no longer works.
 */
import { useDashboard } from './helpers/dashboard';
import { linkToken, testAccountMail, waitForMail } from './helpers/mailpit';

jest.setTimeout(120_000);

const mail = testAccountMail('http://shop.test');
const dashboard = useDashboard({ app: { mail } });

afterAll(() => mail.close());

const signIn = (email: string, password: string) =>
  fetch(`${dashboard.api.url}/v1/auth/signin`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email, password }),
  });

test('a forgotten password is reset end to end: the form, the mail in Mailpit, the link, the new password', async () => {
  const email = `fern.${Date.now().toString(36)}@example.com`;
  await dashboard.signUp(email, 'the old forgotten one');

  const page = await dashboard.open();
  await page.locator('#signed-out').waitFor();
  await page.locator('#forgot summary').click();
  await page.locator('#forgot-email').fill(email);
  await page.locator('#forgot-submit').click();
  await page.locator('#account-message', { hasText: 'a link to choose a new password is on its way' }).waitFor();

  // The link in the mail leads to PUBLIC_URL; this test's dashboard is the API's own address.
  const received = await waitForMail(email, 'Reset your Storefront password');
  const token = linkToken(received, 'reset-password');
  const linked = await dashboard.open(`/#reset-password=${token}`);
  await linked.locator('#reset-form').waitFor();
  await linked.locator('#reset-password').fill('a brand new password');
  await linked.locator('#reset-submit').click();
  await linked.locator('#account-message', { hasText: 'Your password is changed' }).waitFor();
  // The token left the address bar with the page's first look at it.
  expect(new URL(linked.url()).hash).toBe('');

  await linked.locator('#auth-email').fill(email);
  await linked.locator('#auth-password').fill('a brand new password');
  await linked.locator('#signin-submit').click();
  await linked.locator('#user-name', { hasText: email }).waitFor({ timeout: 15_000 });
  expect((await signIn(email, 'the old forgotten one')).status).toBe(401);
  expect(dashboard.pageErrors).toEqual([]);
});
