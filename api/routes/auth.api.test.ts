/**
 * Accounts over HTTP: sign-up, sign-in, sign-out and me with their documented errors; the
 * session cookie and bearer token, refused once revoked; CSRF on cookie requests that change
 * state; the sign-in rate limit; roles and plans that no client can choose; dev tokens only
 * when allowed and never for a real account; a public catalogue.
 */
import { createSigner } from 'fast-jwt';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { buildAppBeside, TEST_SETTINGS, useApiHarness } from '../../test/helpers/api';
import { AccountsService } from '../../services/accounts/accounts.service';
import { createAccountsDb } from '../../services/accounts/db';
import { CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE } from '../plugins/auth';
import { linkToken, testAccountMail, waitForMail } from '../../test/helpers/mailpit';

jest.setTimeout(60_000);

let productId: string;
const api = useApiHarness(async ({ services }) => {
  const lamp = { sku: 'AUTH-LAMP', name: 'Lamp', priceCents: 2_500, available: 5 };
  productId = (await services.inventory.createProduct(lamp)).id;
});

let counter = 0;
const newEmail = (name = 'user') => `${name}.${Date.now().toString(36)}${counter++}@example.com`;
const PASSWORD = 'a fine long password';

interface Signed {
  response: LightMyRequestResponse;
  userId: string;
  token: string;
  cookie: string;
  csrf: string;
  /** The Cookie header a browser would send back. */
  cookieHeader: string;
}

function cookiesOf(response: LightMyRequestResponse) {
  return Object.fromEntries(response.cookies.map((cookie) => [cookie.name, cookie]));
}

function signed(response: LightMyRequestResponse): Signed {
  const cookies = cookiesOf(response);
  const cookie = cookies[SESSION_COOKIE]!.value;
  const csrf = cookies[CSRF_COOKIE]!.value;
  return {
    response,
    userId: response.json().user.id,
    token: response.json().token,
    cookie,
    csrf,
    cookieHeader: `${SESSION_COOKIE}=${cookie}; ${CSRF_COOKIE}=${csrf}`,
  };
}

async function signUp(email = newEmail(), password = PASSWORD): Promise<Signed> {
  const response = await api.app.inject({ method: 'POST', url: '/v1/auth/signup', payload: { email, password } });
  expect(response.statusCode).toBe(201);
  return signed(response);
}

const errorOf = (response: LightMyRequestResponse) => [response.statusCode, response.json().error?.code];

/** The status a request answers with `token` as its bearer token. */
const statusWith = async (token: string, method: 'GET' | 'POST', url: string) =>
  (await api.app.inject({ method, url, headers: { authorization: `Bearer ${token}` } })).statusCode;

describe('sign-up', () => {
  it('creates a user on the free plan with the user role, answers a token and sets the session cookies', async () => {
    const email = newEmail('Ann');
    const session = await signUp(email);
    const body = session.response.json();
    expect(body).toEqual({
      user: { id: session.userId, email, role: 'user', plan: 'free' },
      token: expect.any(String),
      expiresAt: expect.any(String),
    });
    expect(new Date(body.expiresAt).getTime()).toBeGreaterThan(Date.now());
    const cookies = cookiesOf(session.response);
    expect(cookies[SESSION_COOKIE]).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/', value: body.token });
    expect(cookies[SESSION_COOKIE]!.secure).toBeFalsy();
    expect(cookies[CSRF_COOKIE]!.httpOnly).toBeFalsy();

    const byToken = await api.app.inject({
      method: 'GET',
      url: '/v1/auth/me',
      headers: { authorization: `Bearer ${session.token}` },
    });
    expect(byToken.json()).toEqual({ id: session.userId, email, role: 'user', plan: 'free', emailVerified: true });
    const byCookie = await api.app.inject({
      method: 'GET',
      url: '/v1/auth/me',
      headers: { cookie: session.cookieHeader },
    });
    expect(byCookie.json()).toEqual(byToken.json());
  });

  it('marks the cookies Secure in production', async () => {
    const app = await buildAppBeside(api, { settings: { ...TEST_SETTINGS, secureCookies: true } });
    try {
      const response = await app.inject({
        method: 'POST',
        url: '/v1/auth/signup',
        payload: { email: newEmail('secure'), password: PASSWORD },
      });
      expect(response.cookies.map((cookie) => [cookie.name, cookie.secure])).toEqual([
        [SESSION_COOKIE, true],
        [CSRF_COOKIE, true],
      ]);
    } finally {
      await app.close();
    }
  });

  it('refuses a taken email (in any case), a malformed email, a short password and a chosen role or plan, changing nothing', async () => {
    const email = newEmail('Taken');
    await signUp(email);
    const before = await api.snapshot();
    const cases: [string, unknown, number, string][] = [
      ['taken, other case', { email: email.toUpperCase(), password: PASSWORD }, 409, 'EMAIL_TAKEN'],
      ['malformed email', { email: 'no-at-sign.example.com', password: PASSWORD }, 400, 'INVALID_EMAIL'],
      ['short password', { email: newEmail(), password: 'nine char' }, 400, 'VALIDATION_FAILED'],
      ['huge password', { email: newEmail(), password: 'x'.repeat(10_000) }, 400, 'VALIDATION_FAILED'],
      ['chosen role', { email: newEmail(), password: PASSWORD, role: 'admin' }, 400, 'VALIDATION_FAILED'],
      ['chosen plan', { email: newEmail(), password: PASSWORD, plan: 'pro' }, 400, 'VALIDATION_FAILED'],
      ['no password', { email: newEmail() }, 400, 'VALIDATION_FAILED'],
      ['not an object', ['x'], 400, 'VALIDATION_FAILED'],
    ];
    for (const [name, payload, status, code] of cases) {
      const response = await api.app.inject({ method: 'POST', url: '/v1/auth/signup', payload: payload as object });
      expect([name, ...errorOf(response)]).toEqual([name, status, code]);
    }
    const crossSite = await api.app.inject({
      method: 'POST',
      url: '/v1/auth/signup',
      headers: { origin: 'https://evil.example' },
      payload: { email: newEmail(), password: PASSWORD },
    });
    expect(errorOf(crossSite)).toEqual([403, 'CSRF_REJECTED']);
    expect(await api.snapshot()).toEqual(before);
  });
});

describe('sign-in', () => {
  it('opens a new session for the right password under any case of the email', async () => {
    const email = newEmail('Bea');
    const first = await signUp(email);
    const response = await api.app.inject({
      method: 'POST',
      url: '/v1/auth/signin',
      payload: { email: email.toLowerCase(), password: PASSWORD },
    });
    expect(response.statusCode).toBe(200);
    const second = signed(response);
    expect(second.userId).toBe(first.userId);
    expect(second.token).not.toBe(first.token);
    expect(response.json().user).toEqual({ id: first.userId, email, role: 'user', plan: 'free' });
  });

  it('answers a wrong password and an unknown email with the same 401', async () => {
    const email = newEmail('cat');
    await signUp(email);
    const wrong = await api.app.inject({
      method: 'POST',
      url: '/v1/auth/signin',
      remoteAddress: '10.9.0.1',
      payload: { email, password: 'not the password' },
    });
    const unknown = await api.app.inject({
      method: 'POST',
      url: '/v1/auth/signin',
      remoteAddress: '10.9.0.1',
      payload: { email: newEmail('ghost'), password: PASSWORD },
    });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json()).toEqual(unknown.json());
    expect(wrong.json().error.code).toBe('INVALID_CREDENTIALS');
    expect(wrong.cookies).toEqual([]);
  });

  const signIn = (email: string, password: string, remoteAddress: string, app = api.app) =>
    app.inject({ method: 'POST', url: '/v1/auth/signin', remoteAddress, payload: { email, password } });

  it("an attacker's failures from one address never stop the owner's sign-in from another address", async () => {
    const email = newEmail('dan');
    const owner = await api.app.inject({
      method: 'POST',
      url: '/v1/auth/signup',
      remoteAddress: '10.8.2.1',
      payload: { email, password: PASSWORD },
    });
    expect(owner.statusCode).toBe(201);
    const codes: unknown[] = [];
    for (let i = 0; i < 7; i++) codes.push(errorOf(await signIn(email, `wrong guess ${i}`, '10.8.0.1'))[1]);
    expect(codes).toEqual([...Array(5).fill('INVALID_CREDENTIALS'), 'RATE_LIMITED', 'RATE_LIMITED']);
    // The attacker's address is refused for this account even with the right password, and told when to come back...
    const refused = await signIn(email, PASSWORD, '10.8.0.1');
    expect(errorOf(refused)).toEqual([429, 'RATE_LIMITED']);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    // ...while the owner signs in from where they signed up, and from an address never seen before.
    expect((await signIn(email, PASSWORD, '10.8.2.1')).statusCode).toBe(200);
    expect((await signIn(email, PASSWORD, '10.8.2.2')).statusCode).toBe(200);
  });

  it('counts parallel wrong attempts exactly: five reach the password check, the rest are refused', async () => {
    const email = newEmail('par');
    await signUp(email);
    const answers = await Promise.all(
      Array.from({ length: 9 }, (_, i) => signIn(email, `parallel guess ${i}`, '10.8.3.1')),
    );
    expect(answers.map((answer) => answer.statusCode).sort()).toEqual([...Array(5).fill(401), ...Array(4).fill(429)]);
  });

  it('stops one address spraying guesses over many accounts', async () => {
    for (let i = 0; i < 20; i++) await signIn(newEmail('spray'), 'spray guess!', '10.7.0.1');
    const other = newEmail('eve');
    await signUp(other);
    expect(errorOf(await signIn(other, PASSWORD, '10.7.0.1'))).toEqual([429, 'RATE_LIMITED']);
    expect((await signIn(other, PASSWORD, '10.7.0.2')).statusCode).toBe(200);
  });

  it('has a route limit per address, and refuses at once with 503 AUTH_BUSY when the password work is full', async () => {
    const email = newEmail('flood');
    await signUp(email);
    // A small bound on argon2 work: one check at a time, none waiting.
    const db = createAccountsDb(api.dbs.urls.accounts);
    const accounts = new AccountsService(db, { plans: api.services.quota, passwordWork: { concurrency: 1, queue: 0 } });
    const app = await buildAppBeside(api, { services: { ...api.services, accounts }, rateLimits: { signIns: 6 } });
    try {
      const flood = await Promise.all(Array.from({ length: 6 }, (_, i) => signIn(email, PASSWORD, `10.8.4.${i}`, app)));
      const statuses = flood.map((answer) => answer.statusCode);
      expect(statuses).toContain(200);
      const busy = flood.filter((answer) => answer.statusCode === 503);
      expect(busy.length).toBeGreaterThan(0);
      expect(busy.map((answer) => [errorOf(answer)[1], answer.headers['retry-after']])).toEqual(
        busy.map(() => ['AUTH_BUSY', '1']),
      );
      // The route's own limit: the seventh request from one address within the minute is refused before any work.
      const answers: number[] = [];
      for (let i = 0; i < 7; i++) answers.push((await signIn(email, PASSWORD, '10.8.5.1', app)).statusCode);
      expect(answers).toEqual([...Array(6).fill(200), 429]);
    } finally {
      await app.close();
      await db.$disconnect();
    }
  });

  it('refuses malformed bodies and a cross-site origin, changing nothing', async () => {
    const before = await api.snapshot();
    for (const payload of [
      {},
      { email: 'a@b.co' },
      { email: 'a@b.co', password: 'short' },
      { email: 'a@b.co', password: PASSWORD, role: 'admin' },
    ]) {
      expect(errorOf(await api.app.inject({ method: 'POST', url: '/v1/auth/signin', payload }))).toEqual([
        400,
        'VALIDATION_FAILED',
      ]);
    }
    expect(
      errorOf(
        await api.app.inject({
          method: 'POST',
          url: '/v1/auth/signin',
          headers: { 'content-type': 'application/json' },
          payload: '{"email":',
        }),
      ),
    ).toEqual([400, 'INVALID_JSON']);
    const crossSite = await api.app.inject({
      method: 'POST',
      url: '/v1/auth/signin',
      headers: { origin: 'http://evil.example' },
      payload: { email: 'a@b.co', password: PASSWORD },
    });
    expect(errorOf(crossSite)).toEqual([403, 'CSRF_REJECTED']);
    expect(await api.snapshot()).toEqual(before);
  });
});

describe('sessions and sign-out', () => {
  it('sign-out by cookie revokes the session: its cookie and its token are refused from then on', async () => {
    const session = await signUp();
    const signOut = (headers: Record<string, string>) =>
      api.app.inject({ method: 'POST', url: '/v1/auth/signout', headers });
    expect(errorOf(await signOut({ cookie: session.cookieHeader }))).toEqual([403, 'CSRF_REJECTED']);
    const out = await signOut({ cookie: session.cookieHeader, [CSRF_HEADER]: session.csrf });
    expect(out.statusCode).toBe(204);
    expect(cookiesOf(out)[SESSION_COOKIE]?.value).toBe('');

    for (const headers of [{ cookie: session.cookieHeader }, { authorization: `Bearer ${session.token}` }]) {
      const me = await api.app.inject({ method: 'GET', url: '/v1/auth/me', headers });
      expect(errorOf(me)).toEqual([401, 'UNAUTHORIZED']);
      expect(errorOf(await api.app.inject({ method: 'GET', url: '/v1/cart', headers }))).toEqual([401, 'UNAUTHORIZED']);
    }
    const stream = await api.app.inject({
      method: 'GET',
      url: `/v1/notifications/stream?access_token=${session.token}`,
    });
    expect(errorOf(stream)).toEqual([401, 'UNAUTHORIZED']);
  });

  it('sign-out by bearer token revokes it; other sessions of the user go on', async () => {
    const email = newEmail('fay');
    const first = await signUp(email);
    const second = signed(
      await api.app.inject({ method: 'POST', url: '/v1/auth/signin', payload: { email, password: PASSWORD } }),
    );
    expect(await statusWith(first.token, 'POST', '/v1/auth/signout')).toBe(204);
    expect(await statusWith(first.token, 'GET', '/v1/auth/me')).toBe(401);
    expect(await statusWith(second.token, 'GET', '/v1/auth/me')).toBe(200);
    expect(errorOf(await api.app.inject({ method: 'POST', url: '/v1/auth/signout' }))).toEqual([401, 'UNAUTHORIZED']);
  });

  it('me needs a session', async () => {
    expect(errorOf(await api.app.inject({ method: 'GET', url: '/v1/auth/me' }))).toEqual([401, 'UNAUTHORIZED']);
    expect(
      errorOf(
        await api.app.inject({ method: 'GET', url: '/v1/auth/me', headers: { cookie: `${SESSION_COOKIE}=garbage` } }),
      ),
    ).toEqual([401, 'UNAUTHORIZED']);
  });
});

describe('password change and sign-out everywhere', () => {
  it('a password change keeps this session, ends the others, and the old password stops working', async () => {
    const email = newEmail('kai');
    const here = await signUp(email);
    const elsewhere = signed(
      await api.app.inject({ method: 'POST', url: '/v1/auth/signin', payload: { email, password: PASSWORD } }),
    );
    const change = (
      body: object,
      headers: Record<string, string> = { cookie: here.cookieHeader, [CSRF_HEADER]: here.csrf },
    ) => api.app.inject({ method: 'POST', url: '/v1/auth/password', headers, payload: body });

    const before = await api.snapshot();
    expect(
      errorOf(
        await change(
          { currentPassword: PASSWORD, newPassword: 'another fine password' },
          { cookie: here.cookieHeader },
        ),
      ),
    ).toEqual([403, 'CSRF_REJECTED']);
    expect(errorOf(await change({ currentPassword: PASSWORD, newPassword: 'short' }))).toEqual([
      400,
      'VALIDATION_FAILED',
    ]);
    expect(
      errorOf(await change({ currentPassword: PASSWORD, newPassword: 'another fine password', role: 'admin' })),
    ).toEqual([400, 'VALIDATION_FAILED']);
    expect(errorOf(await change({ currentPassword: 'a\u0000b', newPassword: 'another fine password' }))).toEqual([
      400,
      'UNSTORABLE_TEXT',
    ]);
    expect(await api.snapshot()).toEqual(before);
    expect(errorOf(await change({ currentPassword: 'not my password', newPassword: 'another fine password' }))).toEqual(
      [403, 'CURRENT_PASSWORD_WRONG'],
    );
    expect(await statusWith(elsewhere.token, 'GET', '/v1/auth/me')).toBe(200);

    const changed = await change({ currentPassword: PASSWORD, newPassword: 'another fine password' });
    expect([changed.statusCode, changed.json()]).toEqual([200, { endedSessions: 1 }]);
    expect(await statusWith(elsewhere.token, 'GET', '/v1/auth/me')).toBe(401);
    expect(await statusWith(here.token, 'GET', '/v1/auth/me')).toBe(200);
    const signIn = (password: string) =>
      api.app.inject({ method: 'POST', url: '/v1/auth/signin', payload: { email, password } });
    expect(errorOf(await signIn(PASSWORD))).toEqual([401, 'INVALID_CREDENTIALS']);
    expect((await signIn('another fine password')).statusCode).toBe(200);
  });

  it("sign-out everywhere ends every session of the user, this one included, and no one else's", async () => {
    const email = newEmail('lou');
    const here = await signUp(email);
    const elsewhere = signed(
      await api.app.inject({ method: 'POST', url: '/v1/auth/signin', payload: { email, password: PASSWORD } }),
    );
    const stranger = await signUp();
    const out = await api.app.inject({
      method: 'POST',
      url: '/v1/auth/signout-everywhere',
      headers: { cookie: here.cookieHeader, [CSRF_HEADER]: here.csrf },
    });
    expect([out.statusCode, out.json()]).toEqual([200, { endedSessions: 2 }]);
    expect(cookiesOf(out)[SESSION_COOKIE]?.value).toBe('');
    for (const token of [here.token, elsewhere.token]) expect(await statusWith(token, 'GET', '/v1/auth/me')).toBe(401);
    expect(await statusWith(stranger.token, 'GET', '/v1/auth/me')).toBe(200);
  });

  it('a dev-token user has neither a password to change nor sessions to end', async () => {
    const token = api.token('dev-no-password');
    const headers = { authorization: `Bearer ${token}` };
    expect(errorOf(await api.app.inject({ method: 'POST', url: '/v1/auth/signout-everywhere', headers }))).toEqual([
      403,
      'FORBIDDEN',
    ]);
    expect(
      errorOf(
        await api.app.inject({
          method: 'POST',
          url: '/v1/auth/password',
          headers,
          payload: { currentPassword: 'whatever', newPassword: 'another fine password' },
        }),
      ),
    ).toEqual([403, 'FORBIDDEN']);
  });
});

describe('forgotten password and address verification, by mail through Mailpit', () => {
  let mailing: FastifyInstance;
  const mail = testAccountMail('http://shop.test');
  beforeAll(async () => {
    mailing = await buildAppBeside(api, { mail });
  });
  afterAll(async () => {
    await mailing.close();
    mail.close();
  });
  const post = (url: string, payload: object, headers: Record<string, string> = {}) =>
    mailing.inject({ method: 'POST', url, payload, headers });

  it('a reset link by mail sets a new password once, ends every session, and an unknown address is answered alike', async () => {
    const email = newEmail('rosa');
    const session = signed(await post('/v1/auth/signup', { email, password: PASSWORD }));
    const unknown = await post('/v1/auth/password-reset', { email: newEmail('nobody') });
    const known = await post('/v1/auth/password-reset', { email: email.toUpperCase() });
    expect([known.statusCode, known.json()]).toEqual([202, { accepted: true }]);
    expect([unknown.statusCode, unknown.json()]).toEqual([known.statusCode, known.json()]);

    const received = await waitForMail(email, 'Reset your Storefront password');
    expect(received.text).toContain('http://shop.test/#reset-password=');
    const token = linkToken(received, 'reset-password');

    expect(
      errorOf(
        await post('/v1/auth/password-reset/confirm', { token: 'x'.repeat(43), newPassword: 'a new fine password' }),
      ),
    ).toEqual([400, 'LINK_INVALID']);
    expect(errorOf(await post('/v1/auth/password-reset/confirm', { token, newPassword: 'short' }))).toEqual([
      400,
      'VALIDATION_FAILED',
    ]);
    const reset = await post('/v1/auth/password-reset/confirm', { token, newPassword: 'a new fine password' });
    expect([reset.statusCode, reset.json()]).toEqual([200, { endedSessions: 1 }]);
    expect(await statusWith(session.token, 'GET', '/v1/auth/me')).toBe(401);
    expect(
      errorOf(await post('/v1/auth/password-reset/confirm', { token, newPassword: 'yet another password' })),
    ).toEqual([400, 'LINK_INVALID']);
    expect(errorOf(await post('/v1/auth/signin', { email, password: PASSWORD }))).toEqual([401, 'INVALID_CREDENTIALS']);
    expect((await post('/v1/auth/signin', { email, password: 'a new fine password' })).statusCode).toBe(200);
  });

  it('a new account orders only once it proves its address with the link mailed at sign-up', async () => {
    const email = newEmail('vera');
    const session = signed(await post('/v1/auth/signup', { email, password: PASSWORD }));
    const me = () =>
      mailing.inject({ method: 'GET', url: '/v1/auth/me', headers: { authorization: `Bearer ${session.token}` } });
    expect((await me()).json().emailVerified).toBe(false);
    const order = () =>
      mailing.inject({
        method: 'POST',
        url: '/v1/orders',
        headers: { authorization: `Bearer ${session.token}` },
        payload: { items: [{ productId, quantity: 1 }] },
      });
    const before = await api.snapshot();
    expect(errorOf(await order())).toEqual([403, 'EMAIL_NOT_VERIFIED']);
    expect(await api.snapshot()).toEqual(before);
    const token = linkToken(await waitForMail(email, 'Confirm your email address'), 'verify-email');
    expect(errorOf(await post('/v1/auth/verify-email', { token: 'y'.repeat(43) }))).toEqual([400, 'LINK_INVALID']);
    const verified = await post('/v1/auth/verify-email', { token });
    expect([verified.statusCode, verified.json()]).toEqual([
      200,
      { id: session.userId, email, role: 'user', plan: 'free' },
    ]);
    expect((await me()).json().emailVerified).toBe(true);
    expect((await order()).statusCode).toBe(201);
    expect(errorOf(await post('/v1/auth/verify-email', { token }))).toEqual([400, 'LINK_INVALID']);
  });

  it('without a mail server nothing is mailed and a new address counts as verified', async () => {
    const session = await signUp();
    const me = await api.app.inject({
      method: 'GET',
      url: '/v1/auth/me',
      headers: { authorization: `Bearer ${session.token}` },
    });
    expect(me.json().emailVerified).toBe(true);
  });
});

describe('CSRF', () => {
  it('refuses cookie requests that change state without the header, with a wrong one, or from another origin', async () => {
    const session = await signUp();
    const other = await signUp();
    const put = (headers: Record<string, string>) =>
      api.app.inject({ method: 'PUT', url: `/v1/cart/items/${productId}`, headers, payload: { quantity: 1 } });
    const before = await api.snapshot();
    expect(errorOf(await put({ cookie: session.cookieHeader }))).toEqual([403, 'CSRF_REJECTED']);
    expect(errorOf(await put({ cookie: session.cookieHeader, [CSRF_HEADER]: 'forged' }))).toEqual([
      403,
      'CSRF_REJECTED',
    ]);
    expect(errorOf(await put({ cookie: session.cookieHeader, [CSRF_HEADER]: other.csrf }))).toEqual([
      403,
      'CSRF_REJECTED',
    ]);
    expect(
      errorOf(await put({ cookie: session.cookieHeader, [CSRF_HEADER]: session.csrf, origin: 'https://evil.example' })),
    ).toEqual([403, 'CSRF_REJECTED']);
    const signOut = await api.app.inject({
      method: 'POST',
      url: '/v1/auth/signout',
      headers: { cookie: session.cookieHeader, [CSRF_HEADER]: other.csrf },
    });
    expect(errorOf(signOut)).toEqual([403, 'CSRF_REJECTED']);
    expect(await api.snapshot()).toEqual(before);

    expect(
      (await put({ cookie: session.cookieHeader, [CSRF_HEADER]: session.csrf, origin: 'http://localhost:80' }))
        .statusCode,
    ).toBe(200);
    expect((await put({ cookie: session.cookieHeader, [CSRF_HEADER]: session.csrf })).statusCode).toBe(200);
    // Reads need no header; bearer clients need none either.
    expect(
      (await api.app.inject({ method: 'GET', url: '/v1/cart', headers: { cookie: session.cookieHeader } })).statusCode,
    ).toBe(200);
    expect((await put({ authorization: `Bearer ${session.token}` })).statusCode).toBe(200);
  });
});

describe('roles and plans come from the accounts service', () => {
  it('a role claim in a session token is not read; make-admin is', async () => {
    const email = newEmail('gus');
    const session = await signUp(email);
    const { sid } = api.app.jwt.decode<{ sid: string }>(session.token)!;
    const claimsAdmin = createSigner({ key: TEST_SETTINGS.jwtSecret, algorithm: 'HS256' })({
      sub: session.userId,
      sid,
      role: 'admin',
    });
    const create = (token: string, sku: string) =>
      api.app.inject({
        method: 'POST',
        url: '/v1/products',
        headers: { authorization: `Bearer ${token}` },
        payload: { sku, name: 'Admin thing', priceCents: 100, available: 1 },
      });
    expect(errorOf(await create(claimsAdmin, 'GUS-1'))).toEqual([403, 'FORBIDDEN']);
    expect(
      (
        await api.app.inject({ method: 'GET', url: '/v1/auth/me', headers: { authorization: `Bearer ${claimsAdmin}` } })
      ).json().role,
    ).toBe('user');

    await api.services.accounts.setRole(email, 'admin');
    expect((await create(session.token, 'GUS-2')).statusCode).toBe(201);
  });

  it('a session token for another user id is refused', async () => {
    const session = await signUp();
    const { sid } = api.app.jwt.decode<{ sid: string }>(session.token)!;
    const stolen = api.app.jwt.sign({ sub: 'someone-else', sid });
    expect(
      errorOf(await api.app.inject({ method: 'GET', url: '/v1/cart', headers: { authorization: `Bearer ${stolen}` } })),
    ).toEqual([401, 'UNAUTHORIZED']);
  });

  it('dev tokens cannot be had for a real account, so neither its role nor its plan can be set', async () => {
    const session = await signUp();
    const before = await api.snapshot();
    for (const payload of [
      { userId: session.userId },
      { userId: session.userId, plan: 'pro' },
      { userId: session.userId, role: 'admin' },
    ]) {
      expect(errorOf(await api.app.inject({ method: 'POST', url: '/v1/auth/dev-token', payload }))).toEqual([
        409,
        'ACCOUNT_EXISTS',
      ]);
    }
    expect(await api.snapshot()).toEqual(before);
    expect((await api.services.quota.getQuota(session.userId)).plan).toBe('free');
  });

  it('without ALLOW_DEV_TOKENS, tokens without a session are refused and the dev endpoints do not exist', async () => {
    const app = await buildAppBeside(api, { settings: { ...TEST_SETTINGS, allowDevTokens: false } });
    try {
      const devToken = app.jwt.sign({ sub: 'mallory', role: 'admin' });
      expect(
        errorOf(await app.inject({ method: 'GET', url: '/v1/cart', headers: { authorization: `Bearer ${devToken}` } })),
      ).toEqual([401, 'UNAUTHORIZED']);
      expect(
        (await app.inject({ method: 'POST', url: '/v1/auth/dev-token', payload: { userId: 'mallory' } })).statusCode,
      ).toBe(404);
      expect((await app.inject({ method: 'GET', url: '/v1/auth/demo-accounts' })).statusCode).toBe(404);
      const signedUp = await app.inject({
        method: 'POST',
        url: '/v1/auth/signup',
        payload: { email: newEmail('prod'), password: PASSWORD },
      });
      expect(signedUp.statusCode).toBe(201);
      expect(
        (
          await app.inject({
            method: 'GET',
            url: '/v1/cart',
            headers: { authorization: `Bearer ${signedUp.json().token}` },
          })
        ).statusCode,
      ).toBe(200);
    } finally {
      await app.close();
    }
  });

  it('a dev token is never accepted as the session cookie', async () => {
    const devToken = api.app.jwt.sign({ sub: 'cookie-dev', role: 'user' });
    expect(
      errorOf(
        await api.app.inject({ method: 'GET', url: '/v1/cart', headers: { cookie: `${SESSION_COOKIE}=${devToken}` } }),
      ),
    ).toEqual([401, 'UNAUTHORIZED']);
  });

  it('the dev-token flow keeps working for ad-hoc users, and lists the demo accounts', async () => {
    const response = await api.app.inject({
      method: 'POST',
      url: '/v1/auth/dev-token',
      payload: { userId: 'adhoc-dev', plan: 'pro' },
    });
    expect(response.statusCode).toBe(200);
    const me = await api.app.inject({
      method: 'GET',
      url: '/v1/auth/me',
      headers: { authorization: `Bearer ${response.json().token}` },
    });
    expect(me.json()).toEqual({ id: 'adhoc-dev', email: null, role: 'user', plan: 'pro', emailVerified: true });
    const demo = await api.app.inject({ method: 'GET', url: '/v1/auth/demo-accounts' });
    expect(demo.json()).toMatchObject({
      password: expect.any(String),
      accounts: expect.arrayContaining([expect.objectContaining({ email: 'alice@example.com' })]),
    });
  });
});

describe('the catalogue is public', () => {
  it('lists and shows products without sign-in', async () => {
    const list = await api.app.inject({ method: 'GET', url: '/v1/products' });
    expect(list.statusCode).toBe(200);
    expect(list.json().items).toEqual(
      expect.arrayContaining([expect.objectContaining({ id: productId, sku: 'AUTH-LAMP' })]),
    );
    expect((await api.app.inject({ method: 'GET', url: `/v1/products/${productId}` })).json()).toMatchObject({
      id: productId,
    });
    expect(
      errorOf(
        await api.app.inject({
          method: 'POST',
          url: '/v1/products',
          payload: { sku: 'X-1', name: 'x', priceCents: 1, available: 1 },
        }),
      ),
    ).toEqual([401, 'UNAUTHORIZED']);
  });
});
