/**
 * The API's cross-cutting contract: auth, products and cart, a table of bad inputs that each
 * get their documented status and code and change no database, unstorable text refused with
 * UNSTORABLE_TEXT before anything runs, the OpenAPI document,
 * metrics, health, and order endpoints that answer 503 quickly while Temporal is away.
 */
import SwaggerParser from '@apidevtools/swagger-parser';
import { createSigner } from 'fast-jwt';
import { randomUUID } from 'node:crypto';
import { CheckoutClient, TEMPORAL_CHANNEL_ARGS } from '../temporal/checkout-client';
import { buildAppBeside, TEST_SETTINGS, useApiHarness } from '../test/helpers/api';
import { startTcpProxy } from '../harness/tcp-proxy';
import { waitUntil } from '../devstack/waits';
import { temporalProbe } from './probes';
import { serveMetrics } from './metrics-server';
import { createClient, lazyClient, temporalSettingsFromEnv } from '../temporal/connection';

jest.setTimeout(60_000);

let productId: string;
const api = useApiHarness(async ({ services }) => {
  const lamp = { sku: 'TABLE-1', name: 'Table lamp', priceCents: 4_500, available: 10 };
  productId = (await services.inventory.createProduct(lamp)).id;
});

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('auth', () => {
  it('issues a dev token that works, and puts the user on the plan asked for', async () => {
    const response = await api.app.inject({
      method: 'POST',
      url: '/v1/auth/dev-token',
      payload: { userId: 'dave', plan: 'pro' },
    });
    expect(response.statusCode).toBe(200);
    const { token, role } = response.json();
    expect(role).toBe('user');
    const products = await api.app.inject({ method: 'GET', url: '/v1/products', headers: bearer(token) });
    expect(products.statusCode).toBe(200);
    expect(products.json().items).toEqual(
      expect.arrayContaining([expect.objectContaining({ sku: 'TABLE-1', available: 10, version: 1 })]),
    );
    expect((await api.services.quota.getQuota('dave')).plan).toBe('pro');
  });

  it('has no dev-token endpoint when ALLOW_DEV_TOKENS is off', async () => {
    const app = await buildAppBeside(api, { settings: { ...TEST_SETTINGS, allowDevTokens: false } });
    const response = await app.inject({ method: 'POST', url: '/v1/auth/dev-token', payload: { userId: 'dave' } });
    expect(response.statusCode).toBe(404);
    await app.close();
  });

  it('refuses missing, malformed, expired, forged and unsigned tokens with 401', async () => {
    const past = Math.floor(Date.now() / 1000) - 3600;
    const expired = createSigner({ key: TEST_SETTINGS.jwtSecret, algorithm: 'HS256' })({
      sub: 'alice',
      role: 'user',
      iat: past - 60,
      exp: past,
    });
    const forged = createSigner({ key: 'not-our-secret', algorithm: 'HS256' })({ sub: 'alice', role: 'admin' });
    const unsigned = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from('{"sub":"alice","role":"admin"}').toString('base64url')}.`;
    const noRole = api.app.jwt.sign({ sub: 'alice' } as never);
    const cases: [string, Record<string, string>, string][] = [
      ['missing', {}, 'UNAUTHORIZED'],
      ['not bearer', { authorization: 'Basic YWxpY2U6c2VjcmV0' }, 'UNAUTHORIZED'],
      ['garbage', bearer('not.a.jwt'), 'UNAUTHORIZED'],
      ['expired', bearer(expired), 'TOKEN_EXPIRED'],
      ['forged', bearer(forged), 'UNAUTHORIZED'],
      ['alg none', bearer(unsigned), 'UNAUTHORIZED'],
      ['no role', bearer(noRole), 'UNAUTHORIZED'],
    ];
    for (const [name, headers, code] of cases) {
      const response = await api.app.inject({ method: 'GET', url: '/v1/cart', headers });
      expect([name, response.statusCode, response.json().error.code]).toEqual([name, 401, code]);
    }
  });
});

describe('products and cart', () => {
  it('admins create and edit products with optimistic versions; users may not', async () => {
    const created = await api.as(
      'admin',
      {
        method: 'POST',
        url: '/v1/products',
        payload: { sku: 'DESK-9', name: 'Desk', priceCents: 20_000, available: 3 },
      },
      'admin',
    );
    expect(created.statusCode).toBe(201);
    const desk = created.json();
    expect(desk).toMatchObject({ sku: 'DESK-9', priceCents: 20_000, currency: 'usd', available: 3, version: 1 });

    const edited = await api.as(
      'admin',
      { method: 'PATCH', url: `/v1/products/${desk.id}`, payload: { version: 1, priceCents: 18_000 } },
      'admin',
    );
    expect(edited.json()).toMatchObject({ priceCents: 18_000, version: 2 });
    const stale = await api.as(
      'admin',
      { method: 'PATCH', url: `/v1/products/${desk.id}`, payload: { version: 1, priceCents: 1 } },
      'admin',
    );
    expect([stale.statusCode, stale.json().error.code]).toEqual([409, 'VERSION_CONFLICT']);
    const taken = await api.as(
      'admin',
      { method: 'POST', url: '/v1/products', payload: { sku: 'DESK-9', name: 'Again', priceCents: 1, available: 1 } },
      'admin',
    );
    expect([taken.statusCode, taken.json().error.code]).toEqual([409, 'SKU_TAKEN']);
    const missing = await api.as(
      'admin',
      { method: 'PATCH', url: `/v1/products/${randomUUID()}`, payload: { version: 1, name: 'x' } },
      'admin',
    );
    expect([missing.statusCode, missing.json().error.code]).toEqual([404, 'PRODUCT_NOT_FOUND']);
    expect((await api.services.inventory.getProduct(desk.id))!.priceCents).toBe(18_000);
  });

  it('keeps a cart per user at catalogue prices; 0 removes an item', async () => {
    const user = `cart-${randomUUID().slice(0, 6)}`;
    const put = await api.as(user, { method: 'PUT', url: `/v1/cart/items/${productId}`, payload: { quantity: 3 } });
    expect(put.json()).toEqual({
      items: [{ productId, quantity: 3, priceCents: 4_500 }],
      totalCents: 13_500,
      currency: 'usd',
    });
    expect((await api.as('someone-else', { method: 'GET', url: '/v1/cart' })).json().items).toEqual([]);
    expect(
      (await api.as(user, { method: 'PUT', url: `/v1/cart/items/${productId}`, payload: { quantity: 0 } })).json()
        .items,
    ).toEqual([]);
    await api.as(user, { method: 'PUT', url: `/v1/cart/items/${productId}`, payload: { quantity: 1 } });
    expect((await api.as(user, { method: 'DELETE', url: `/v1/cart/items/${productId}` })).json()).toEqual({
      items: [],
      totalCents: 0,
      currency: 'usd',
    });
  });
});

describe('bad input', () => {
  type Case = {
    name: string;
    method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
    url: string;
    body?: string;
    contentType?: string;
    role?: 'admin';
    headers?: Record<string, string>;
    status: number;
    code: string;
  };
  const json = (value: unknown) => JSON.stringify(value);
  const cases = (): Case[] => [
    {
      name: 'malformed JSON',
      method: 'PUT',
      url: `/v1/cart/items/${productId}`,
      body: '{"quantity": 2',
      status: 400,
      code: 'INVALID_JSON',
    },
    {
      name: 'wrong type',
      method: 'PUT',
      url: `/v1/cart/items/${productId}`,
      body: json({ quantity: 'two' }),
      status: 400,
      code: 'VALIDATION_FAILED',
    },
    {
      name: 'missing field',
      method: 'PUT',
      url: `/v1/cart/items/${productId}`,
      body: json({}),
      status: 400,
      code: 'VALIDATION_FAILED',
    },
    {
      name: 'negative quantity',
      method: 'PUT',
      url: `/v1/cart/items/${productId}`,
      body: json({ quantity: -1 }),
      status: 400,
      code: 'VALIDATION_FAILED',
    },
    {
      name: 'fractional quantity',
      method: 'PUT',
      url: `/v1/cart/items/${productId}`,
      body: json({ quantity: 1.5 }),
      status: 400,
      code: 'VALIDATION_FAILED',
    },
    {
      name: 'unknown field',
      method: 'PUT',
      url: `/v1/cart/items/${productId}`,
      body: json({ quantity: 1, priceCents: 1 }),
      status: 400,
      code: 'VALIDATION_FAILED',
    },
    {
      name: 'not a uuid',
      method: 'PUT',
      url: '/v1/cart/items/not-a-uuid',
      body: json({ quantity: 1 }),
      status: 400,
      code: 'VALIDATION_FAILED',
    },
    {
      name: 'unknown product in cart',
      method: 'PUT',
      url: `/v1/cart/items/${randomUUID()}`,
      body: json({ quantity: 1 }),
      status: 404,
      code: 'PRODUCT_NOT_FOUND',
    },
    {
      name: 'huge body',
      method: 'PUT',
      url: `/v1/cart/items/${productId}`,
      body: json({ quantity: 1, pad: 'x'.repeat(100_000) }),
      status: 413,
      code: 'PAYLOAD_TOO_LARGE',
    },
    {
      name: 'not JSON',
      method: 'PUT',
      url: `/v1/cart/items/${productId}`,
      body: 'quantity=1',
      contentType: 'application/x-www-form-urlencoded',
      status: 415,
      code: 'UNSUPPORTED_MEDIA_TYPE',
    },
    {
      name: 'order: negative quantity',
      method: 'POST',
      url: '/v1/orders',
      body: json({ items: [{ productId, quantity: -2 }] }),
      status: 400,
      code: 'VALIDATION_FAILED',
    },
    {
      name: 'order: fractional quantity',
      method: 'POST',
      url: '/v1/orders',
      body: json({ items: [{ productId, quantity: 0.5 }] }),
      status: 400,
      code: 'VALIDATION_FAILED',
    },
    {
      name: 'order: zero quantity',
      method: 'POST',
      url: '/v1/orders',
      body: json({ items: [{ productId, quantity: 0 }] }),
      status: 400,
      code: 'VALIDATION_FAILED',
    },
    {
      name: 'order: no items',
      method: 'POST',
      url: '/v1/orders',
      body: json({ items: [] }),
      status: 400,
      code: 'VALIDATION_FAILED',
    },
    {
      name: 'order: unknown product',
      method: 'POST',
      url: '/v1/orders',
      body: json({ items: [{ productId: randomUUID(), quantity: 1 }] }),
      status: 400,
      code: 'UNKNOWN_PRODUCT',
    },
    {
      name: 'order: bad idempotency key',
      method: 'POST',
      url: '/v1/orders',
      body: json({ items: [{ productId, quantity: 1 }] }),
      headers: { 'idempotency-key': 'x'.repeat(300) },
      status: 400,
      code: 'VALIDATION_FAILED',
    },
    {
      name: 'pay: unknown order',
      method: 'POST',
      url: `/v1/orders/${randomUUID()}/payment`,
      body: json({ paymentMethod: 'pm_card_visa' }),
      status: 404,
      code: 'ORDER_NOT_FOUND',
    },
    {
      name: 'pay: missing method',
      method: 'POST',
      url: `/v1/orders/${randomUUID()}/payment`,
      body: json({}),
      status: 400,
      code: 'VALIDATION_FAILED',
    },
    {
      name: 'user on admin route',
      method: 'POST',
      url: '/v1/products',
      body: json({ sku: 'NOPE-1', name: 'Nope', priceCents: 1, available: 1 }),
      status: 403,
      code: 'FORBIDDEN',
    },
    {
      name: 'admin: negative price',
      method: 'POST',
      url: '/v1/products',
      role: 'admin',
      body: json({ sku: 'NOPE-2', name: 'Nope', priceCents: -1, available: 1 }),
      status: 400,
      code: 'VALIDATION_FAILED',
    },
    {
      name: 'admin: patch without version',
      method: 'PATCH',
      url: `/v1/products/${productId}`,
      role: 'admin',
      body: json({ name: 'x' }),
      status: 400,
      code: 'VALIDATION_FAILED',
    },
    {
      name: 'dev token: bad user id',
      method: 'POST',
      url: '/v1/auth/dev-token',
      body: json({ userId: 'a b/c' }),
      status: 400,
      code: 'VALIDATION_FAILED',
    },
    {
      name: 'dev token: unknown plan',
      method: 'POST',
      url: '/v1/auth/dev-token',
      body: json({ userId: 'erin', plan: 'platinum' }),
      status: 400,
      code: 'UNKNOWN_PLAN',
    },
    {
      name: 'dev token: bad role',
      method: 'POST',
      url: '/v1/auth/dev-token',
      body: json({ userId: 'erin', role: 'root' }),
      status: 400,
      code: 'VALIDATION_FAILED',
    },
    { name: 'unknown route', method: 'GET', url: '/v1/nothing-here', status: 404, code: 'ROUTE_NOT_FOUND' },
  ];

  it('each gets its documented status and code, and no database changes', async () => {
    const before = await api.snapshot();
    for (const c of cases()) {
      const response = await api.app.inject({
        method: c.method,
        url: c.url,
        headers: {
          ...bearer(api.token('table-user', c.role ?? 'user')),
          ...(c.body !== undefined ? { 'content-type': c.contentType ?? 'application/json' } : {}),
          ...c.headers,
        },
        ...(c.body !== undefined ? { payload: c.body } : {}),
      });
      expect([c.name, response.statusCode, response.json()]).toEqual([
        c.name,
        c.status,
        { error: { code: c.code, message: expect.any(String) } },
      ]);
      expect(response.body).not.toMatch(/\bat .+\.(ts|js):\d+/);
    }
    expect(await api.snapshot()).toEqual(before);
  });
});

describe('unstorable text', () => {
  const json = (value: unknown) => JSON.stringify(value);
  /** `{"reason":"<byte 0xff>"}`: a body that is not UTF-8 (Fastify alone would store U+FFFD in its place). */
  const notUtf8 = Buffer.concat([Buffer.from('{"reason":"'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]);

  it('a NUL or a lone surrogate in any field, or a body that is not UTF-8, is 400 UNSTORABLE_TEXT at once and changes nothing', async () => {
    const placed = await api.as('text-user', {
      method: 'POST',
      url: '/v1/orders',
      payload: { items: [{ productId, quantity: 1 }] },
    });
    expect([placed.statusCode, placed.json().status]).toEqual([201, 'AWAITING_PAYMENT']);
    const orderId: string = placed.json().id;
    await api.settled(orderId);
    const cases: {
      name: string;
      url: string;
      method?: 'PATCH';
      body?: string | Buffer;
      role?: 'admin';
      headers?: Record<string, string>;
      field: string;
    }[] = [
      {
        name: 'cancel reason with NUL',
        url: `/v1/orders/${orderId}/cancel`,
        body: json({ reason: 'changed my mind\u0000' }),
        field: 'body.reason',
      },
      {
        name: 'cancel reason with a lone surrogate',
        url: `/v1/orders/${orderId}/cancel`,
        body: json({ reason: 'a\ud800b' }),
        field: 'body.reason',
      },
      { name: 'cancel body not UTF-8', url: `/v1/orders/${orderId}/cancel`, body: notUtf8, field: 'UTF-8' },
      {
        name: 'payment method with NUL',
        url: `/v1/orders/${orderId}/payment`,
        body: json({ paymentMethod: 'pm_card_visa\u0000' }),
        field: 'body.paymentMethod',
      },
      {
        name: 'sign-in email with NUL',
        url: '/v1/auth/signin',
        body: json({ email: 'alice@example.com\u0000', password: 'storefront-demo' }),
        field: 'body.email',
      },
      {
        name: 'sign-up password with a lone surrogate',
        url: '/v1/auth/signup',
        body: json({ email: 'new@example.com', password: 'long enough \udc00' }),
        field: 'body.password',
      },
      {
        name: 'a field name with NUL',
        url: '/v1/auth/signin',
        body: json({ 'email\u0000': 'alice@example.com', password: 'storefront-demo' }),
        field: 'body.email',
      },
      {
        name: 'product name with NUL',
        url: '/v1/products',
        role: 'admin',
        body: json({ sku: 'NUL-1', name: 'Lamp\u0000', priceCents: 1, available: 1 }),
        field: 'body.name',
      },
      {
        name: 'product rename with NUL',
        url: `/v1/products/${productId}`,
        method: 'PATCH',
        role: 'admin',
        body: json({ version: 1, name: '\u0000' }),
        field: 'body.name',
      },
      {
        name: 'stock reason with NUL',
        url: `/v1/products/${productId}/stock`,
        role: 'admin',
        body: json({ delta: 1, reason: 'delivery\u0000' }),
        field: 'body.reason',
      },
      {
        name: 'usage key with NUL',
        url: '/v1/usage',
        body: json({ resource: 'builds', quantity: 1, idempotencyKey: 'k\u0000' }),
        field: 'body.idempotencyKey',
      },
      {
        name: 'idempotency key header with NUL',
        url: '/v1/orders',
        body: json({ items: [{ productId, quantity: 1 }] }),
        headers: { 'idempotency-key': 'key\u0000' },
        field: 'headers.idempotency-key',
      },
      { name: 'path id with NUL', url: '/v1/orders/%00/cancel', body: json({}), field: 'params.id' },
    ];
    const before = await api.snapshot();
    for (const c of cases) {
      const response = await api.app.inject({
        method: c.method ?? 'POST',
        url: c.url,
        headers: {
          ...bearer(api.token('text-user', c.role ?? 'user')),
          'content-type': 'application/json',
          ...c.headers,
        },
        payload: c.body,
      });
      expect([c.name, response.statusCode, response.json().error.code]).toEqual([c.name, 400, 'UNSTORABLE_TEXT']);
      expect([c.name, response.json().error.message]).toEqual([c.name, expect.stringContaining(c.field)]);
    }
    expect(await api.snapshot()).toEqual(before);
    // Nothing was parked: the order still waits for payment, and a plain cancel ends it.
    expect((await api.services.orders.get(orderId))?.status).toBe('AWAITING_PAYMENT');
    const cancelled = await api.as('text-user', {
      method: 'POST',
      url: `/v1/orders/${orderId}/cancel`,
      payload: { reason: 'changed my mind' },
    });
    expect([cancelled.statusCode, cancelled.json().status]).toEqual([200, 'CANCELLED']);
  });

  it('keeps every other character, astral ones (a surrogate pair) included, as sent', async () => {
    const name = 'Lampe \u00e9t\u00e9 \u6f22\u5b57 \ud83d\udca1 \u202e';
    const created = await api.as(
      'text-admin',
      { method: 'POST', url: '/v1/products', payload: { sku: 'TEXT-1', name, priceCents: 100, available: 1 } },
      'admin',
    );
    expect([created.statusCode, created.json().name]).toEqual([201, name]);
    expect((await api.services.inventory.getProduct(created.json().id))?.name).toBe(name);
  });
});

describe('documentation, metrics and health', () => {
  it('serves an OpenAPI 3.1 document that lists every route with its schemas', async () => {
    const document = (await api.app.inject({ method: 'GET', url: '/docs/json' })).json();
    expect(document.openapi).toBe('3.1.0');
    const routes = Object.entries(document.paths as Record<string, Record<string, unknown>>).flatMap(
      ([path, methods]) => Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`),
    );
    expect(routes).toEqual(
      expect.arrayContaining([
        'POST /v1/auth/dev-token',
        'GET /v1/products',
        'POST /v1/products',
        'PATCH /v1/products/{id}',
        'GET /v1/cart',
        'PUT /v1/cart/items/{productId}',
        'DELETE /v1/cart/items/{productId}',
        'POST /v1/orders',
        'GET /v1/orders',
        'GET /v1/orders/{id}',
        'POST /v1/orders/{id}/payment',
        'POST /v1/orders/{id}/cancel',
        'POST /v1/webhooks/stripe',
        'GET /healthz',
        'GET /readyz',
      ]),
    );
    expect(document.paths['/v1/orders'].post.responses['409']).toMatchObject({
      description: expect.any(String),
      content: { 'application/json': { schema: expect.any(Object) } },
    });
    // A structurally valid OpenAPI 3.1 document (schema and $refs), as clients' generators need.
    await expect(SwaggerParser.validate(structuredClone(document))).resolves.toMatchObject({ openapi: '3.1.0' });
    expect((await api.app.inject({ method: 'GET', url: '/docs' })).statusCode).toBeLessThan(400);
  });

  it('exports HTTP latency and orders by status for Prometheus', async () => {
    await api.as('metrics-user', { method: 'GET', url: '/v1/products' });
    await api.app.metrics.refresh();
    const text = (await api.app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(text).toMatch(/http_request_duration_seconds_bucket\{.*route="\/v1\/products".*\}/);
    expect(text).toContain('# TYPE storefront_orders gauge');
    expect(text).toContain('# TYPE storefront_quota_rejections_total counter');
    expect(text).toMatch(/storefront_compensations_total\{step="stock_released"\} \d+/);
  });

  it('a scrape reads the figures of the latest refresh: scrapes never query the databases', async () => {
    // The app's database figures, each read counted (the harness's own app refreshes on its own timer).
    const reads: string[] = [];
    const counted = <T extends object>(service: T, method: keyof T & string): T =>
      Object.assign(Object.create(service) as T, {
        [method]: (...args: unknown[]) => {
          reads.push(method);
          return (service[method] as (...a: unknown[]) => unknown).apply(service, args);
        },
      });
    const { services } = api;
    const app = await buildAppBeside(api, {
      services: {
        ...services,
        orders: counted(services.orders, 'countByStatus'),
        inventory: counted(services.inventory, 'countReleasedReservations'),
        payments: counted(services.payments, 'countCompensated'),
        quota: counted(services.quota, 'countReleasedUsage'),
        findings: counted(services.findings, 'latestRun'),
      },
    });
    try {
      await app.ready();
      await app.metrics.refresh();
      const afterRefresh = reads.length;
      expect(afterRefresh).toBeGreaterThanOrEqual(5);
      const scrapes = await Promise.all(
        Array.from({ length: 20 }, () => app.inject({ method: 'GET', url: '/metrics' })),
      );
      expect(scrapes.map((scrape) => scrape.statusCode)).toEqual(Array(20).fill(200));
      expect(scrapes[0]!.body).toMatch(/storefront_compensations_total\{step="stock_released"\} \d+/);
      expect(reads.length).toBe(afterRefresh);
    } finally {
      await app.close();
    }
  });

  it('in production /metrics is not on the public port; METRICS_PORT serves it', async () => {
    const app = await buildAppBeside(api, { settings: { ...TEST_SETTINGS, production: true } });
    const metricsServer = await serveMetrics(app.metrics.registry, { port: 0, host: '127.0.0.1' });
    try {
      expect((await app.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(404);
      const scrape = await fetch(`http://127.0.0.1:${metricsServer.port}/metrics`);
      expect(scrape.status).toBe(200);
      expect(await scrape.text()).toContain('# TYPE storefront_orders gauge');
      expect((await fetch(`http://127.0.0.1:${metricsServer.port}/v1/products`)).status).toBe(404);
    } finally {
      await metricsServer.close();
      await app.close();
    }
    // With METRICS_PORT set the public port has none in development either.
    const development = await buildAppBeside(api, { settings: { ...TEST_SETTINGS, metricsPort: 9465 } });
    expect((await development.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(404);
    await development.close();
  });

  it('carries a request id and security headers on every response', async () => {
    const response = await api.app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': 'trace-123' } });
    expect(response.headers['x-request-id']).toBe('trace-123');
    expect(response.headers['x-content-type-options']).toBe('nosniff');
    // Helmet's default policy: scripts and everything else from the API's own origin only.
    expect(response.headers['content-security-policy']).toContain("default-src 'self'");
  });

  it('rate-limits dev tokens and order placement', async () => {
    const app = await buildAppBeside(api, {
      rateLimits: { devTokens: 2, orders: 1 },
    });
    const codes = [];
    for (let i = 0; i < 3; i++)
      codes.push(
        (await app.inject({ method: 'POST', url: '/v1/auth/dev-token', payload: { userId: 'rl' } })).statusCode,
      );
    expect(codes).toEqual([200, 200, 429]);
    const token = app.jwt.sign({ sub: 'rl', role: 'user' });
    const orders = [];
    for (let i = 0; i < 2; i++)
      orders.push(await app.inject({ method: 'POST', url: '/v1/orders', headers: bearer(token) }));
    expect(orders.map((r) => r.statusCode)).toEqual([400, 429]);
    expect(orders[1]!.json().error.code).toBe('RATE_LIMITED');
    await app.close();
  });
});

describe('Temporal unavailable', () => {
  it('order endpoints answer 503 TEMPORAL_UNAVAILABLE quickly, readiness names Temporal, and both recover on their own', async () => {
    // The API reaches the test server through a proxy we can cut: what it sees when Temporal is down.
    const [host, port] = process.env.TEMPORAL_ADDRESS!.split(':');
    const proxy = await startTcpProxy({ host: host!, port: Number(port) });
    proxy.cut();
    const temporal = { ...temporalSettingsFromEnv(), address: proxy.address, namespace: api.temporal.namespace };
    const connection = lazyClient(temporal, { channelArgs: TEMPORAL_CHANNEL_ARGS });
    const app = await buildAppBeside(api, {
      checkout: new CheckoutClient(createClient(connection, temporal), { deadlineMs: 2_000 }),
      probes: [temporalProbe(connection, 1_000)],
      probeTimeoutMs: 1_500,
      // Each poll below is to see the recovery itself, not a cached answer.
      readinessCacheMs: 0,
    });
    try {
      const token = app.jwt.sign({ sub: 'while-down', role: 'user' });
      const place = () =>
        app.inject({
          method: 'POST',
          url: '/v1/orders',
          headers: bearer(token),
          payload: { items: [{ productId, quantity: 1 }] },
        });
      const before = await api.snapshot();
      const refused = await place();
      expect([refused.statusCode, refused.json().error.code]).toEqual([503, 'TEMPORAL_UNAVAILABLE']);
      expect(await api.snapshot()).toEqual(before);
      const notReady = await app.inject({ method: 'GET', url: '/readyz' });
      expect([notReady.statusCode, notReady.json().down]).toEqual([503, ['temporal']]);

      // Back again: the same app, with no restart, places the order.
      // gRPC reconnects on its own backoff (capped at 2 s by TEMPORAL_CHANNEL_ARGS): wait for readiness, bounded.
      // Bounded by time, not by a count of polls: a refused probe answers at once, and the channel's
      // reconnect backoff decides when Temporal is reachable again.
      proxy.restore();
      await waitUntil(
        'readiness after Temporal is back',
        async () => (await app.inject({ method: 'GET', url: '/readyz' })).statusCode === 200,
        { timeoutMs: 30_000 },
      );
      const placed = await place();
      expect([placed.statusCode, placed.json().status]).toEqual([201, 'AWAITING_PAYMENT']);
    } finally {
      await app.close();
      await connection.close();
      await proxy.close();
    }
  });
});
