/**
 * The contract tier's own checks (test/helpers/contract.ts checks every API-tier request):
 * the served document says what the code does (public routes public, the cookie scheme with its
 * CSRF header, optional bodies optional, the stream as text/event-stream); mismatches planted in
 * the code or in the document fail the checker; and a TypeScript client generated from the
 * document (openapi-typescript) compiles and, through openapi-fetch, places and pays an order.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Document } from 'openapi-backend';
import { buildAppBeside, useApiHarness } from '../test/helpers/api';
import { contractRequestOf, OpenApiContract } from '../test/helpers/contract';
import { newProduct } from '../test/helpers/checkouts';

jest.setTimeout(120_000);

const ROOT = path.resolve(__dirname, '..');
const run = promisify(execFile);

type Operation = {
  security?: Record<string, string[]>[];
  requestBody?: { required?: boolean };
  responses: Record<string, { content?: Record<string, unknown> }>;
};
type ServedDocument = Omit<Document, 'paths'> & { paths: Record<string, Record<string, Operation>> };
const contractOf = (document: ServedDocument) => OpenApiContract.of(document as Document);

const api = useApiHarness();
let served: ServedDocument;
beforeAll(async () => {
  served = (await api.app.inject({ method: 'GET', url: '/docs/json' })).json();
});

const operations = () =>
  Object.entries(served.paths).flatMap(([route, methods]) =>
    Object.entries(methods).map(([method, operation]) => ({ key: `${method.toUpperCase()} ${route}`, operation })),
  );

describe('the served document', () => {
  it('declares the routes anyone may call public, and every other one signed in', () => {
    const publicOnes = operations()
      .filter(({ operation }) => operation.security?.length === 0)
      .map(({ key }) => key);
    expect(publicOnes).toEqual(
      expect.arrayContaining([
        'GET /healthz',
        'GET /readyz',
        'POST /v1/auth/signup',
        'POST /v1/auth/signin',
        'GET /v1/products',
        'GET /v1/products/{id}',
        'POST /v1/webhooks/stripe',
      ]),
    );
    for (const { key, operation } of operations()) {
      // Every operation states its own security: none falls back to the document's default.
      expect({ key, security: Array.isArray(operation.security) }).toEqual({ key, security: true });
      if (operation.security!.length > 0)
        expect({ key, 401: '401' in operation.responses }).toEqual({ key, 401: true });
    }
  });

  it('declares the session cookie, with the CSRF header on the calls that change something', () => {
    expect(served.components?.securitySchemes).toMatchObject({
      bearer: { type: 'http', scheme: 'bearer' },
      session: { type: 'apiKey', in: 'cookie', name: 'sf_session' },
      csrfToken: { type: 'apiKey', in: 'header', name: 'X-CSRF-Token' },
    });
    expect(served.paths['/v1/orders']!.post!.security).toEqual([{ bearer: [] }, { session: [], csrfToken: [] }]);
    expect(served.paths['/v1/orders']!.get!.security).toEqual([{ bearer: [] }, { session: [] }]);
    expect(served.paths['/v1/orders']!.post!.responses).toHaveProperty('403');
  });

  it('declares the bodies the API does without as optional, and the others required', () => {
    expect(served.paths['/v1/orders']!.post!.requestBody?.required).toBe(false);
    expect(served.paths['/v1/orders/{id}/cancel']!.post!.requestBody?.required).toBe(false);
    expect(served.paths['/v1/orders/{id}/payment']!.post!.requestBody?.required).toBe(true);
  });

  it('declares the notification stream as text/event-stream and its errors as JSON', () => {
    const { responses } = served.paths['/v1/notifications/stream']!.get!;
    expect(Object.keys(responses['200']!.content!)).toEqual(['text/event-stream']);
    for (const status of ['400', '401', '429', '503'])
      expect(Object.keys(responses[status]!.content!)).toEqual(['application/json']);
  });
});

describe('the checker', () => {
  it('sees every app the API tier builds: no API test calls buildApp except through the checked helpers', () => {
    // Every source folder (jest.config.js matches *.api.test.ts anywhere), not the installed packages or local data.
    const folders = readdirSync(ROOT, { withFileTypes: true })
      .filter((entry) => entry.isDirectory() && !entry.name.startsWith('.') && entry.name !== 'node_modules')
      .map((entry) => entry.name);
    const apiTests = folders.flatMap((folder) =>
      readdirSync(path.join(ROOT, folder), { recursive: true, encoding: 'utf8' })
        .filter((file) => file.endsWith('.api.test.ts'))
        .map((file) => path.join(folder, file)),
    );
    expect(apiTests.length).toBeGreaterThan(10);
    const unchecked = apiTests.filter((file) => /\bbuildApp\s*\(/.test(readFileSync(path.join(ROOT, file), 'utf8')));
    // test/helpers/api.ts's buildCheckedApp and buildAppBeside, and the live instances, wrap every app in the check.
    expect(unchecked).toEqual([]);
  });

  // The plants must fail here even in a survey run that only reports violations (CONTRACT_REPORT).
  const surveying = process.env.CONTRACT_REPORT;
  beforeAll(() => delete process.env.CONTRACT_REPORT);
  afterAll(() => {
    if (surveying) process.env.CONTRACT_REPORT = surveying;
  });

  it('fails a route that answers a field its schema lacks', async () => {
    // The catalogue route sends its body already serialized, past Fastify's serializer: planted here.
    const [product] = await Promise.all([newProduct(api.services.inventory, 'contract', 1)]);
    const body = JSON.stringify({ items: [{ ...product, costCents: 1 }], nextCursor: null });
    const planted = { body, etag: '"planted"' };
    const app = await buildAppBeside(api, {
      catalogue: { page: async () => planted, current: async () => planted } as never,
    });
    try {
      await expect(app.inject({ method: 'GET', url: '/v1/products' })).rejects.toThrow(
        /GET \/v1\/products answered 200 with body\.items\.0 must NOT have additional properties: costCents/,
      );
    } finally {
      await app.close();
    }
  });

  it('fails a public route that lost its `security: []`', async () => {
    const planted = structuredClone(served);
    delete planted.paths['/v1/products']!.get!.security;
    const contract = await contractOf(planted);
    const request = contractRequestOf({ method: 'GET', url: '/v1/products' });
    const response = await api.app.inject({ method: 'GET', url: '/v1/products' });
    const exchange = { statusCode: response.statusCode, headers: response.headers, payload: response.payload };
    expect(contract.problemsOf(request, exchange)).toEqual([
      'was accepted (200) although the document refuses it: carries none of its security alternatives (bearer, session)',
    ]);
    // The served document passes the same exchange.
    expect((await contractOf(served)).problemsOf(request, exchange)).toEqual([]);
  });

  it('fails an answer with a status its operation does not list, and a body declared required that was not sent', async () => {
    const contract = await contractOf(served);
    const teapot = { statusCode: 418, headers: { 'content-type': 'application/json' }, payload: '{}' };
    expect(contract.problemsOf(contractRequestOf('/healthz'), teapot)).toEqual([
      'answered 418, which the document does not list (it lists 200)',
    ]);
    const planted = structuredClone(served);
    planted.paths['/v1/orders']!.post!.requestBody!.required = true;
    const request = contractRequestOf({ method: 'POST', url: '/v1/orders', headers: { authorization: 'Bearer x' } });
    const accepted = { statusCode: 201, headers: { 'content-type': 'application/json' }, payload: '{}' };
    expect((await contractOf(planted)).problemsOf(request, accepted)[0]).toMatch(
      /^was accepted \(201\) although the document refuses it: .*requestBody/,
    );
  });

  it('checks a stream by its status and media type, not its events', async () => {
    const contract = await contractOf(served);
    const request = contractRequestOf({ method: 'GET', url: '/v1/notifications/stream?access_token=t' });
    const streaming = { statusCode: 200, headers: { 'content-type': 'text/event-stream' }, payload: 'retry: 2000\n\n' };
    expect(contract.problemsOf(request, streaming)).toEqual([]);
    const asJson = { statusCode: 200, headers: { 'content-type': 'application/json' }, payload: '{}' };
    expect(contract.problemsOf(request, asJson)).toEqual([
      'answered 200 as application/json, where the document says text/event-stream',
    ]);
  });
});

describe('a client generated from the document', () => {
  const dir = path.join(ROOT, '.data', `contract-client-${process.env.JEST_WORKER_ID ?? '0'}`);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** A customer's journey, typed by the generated paths: the optional bodies and the required one are type-checked. */
  const JOURNEY = `import createClient from 'openapi-fetch';
import type { paths } from './openapi';

export async function journey(fetch: typeof globalThis.fetch, productId: string, email: string) {
  const client = createClient<paths>({ baseUrl: 'http://storefront.test', fetch });
  const signedUp = await client.POST('/v1/auth/signup', { body: { email, password: 'a long enough password' } });
  if (!signedUp.data) throw new Error('sign-up failed: ' + JSON.stringify(signedUp.error));
  const headers = { authorization: 'Bearer ' + signedUp.data.token };
  const catalogue = await client.GET('/v1/products');
  const seen = catalogue.data?.items.some((item) => item.id === productId) ?? false;
  await client.PUT('/v1/cart/items/{productId}', { params: { path: { productId } }, body: { quantity: 1 }, headers });
  // No body: the order is placed from the cart (the document's body is optional).
  const placed = await client.POST('/v1/orders', { headers });
  if (!placed.data) throw new Error('placing failed: ' + JSON.stringify(placed.error));
  const id = placed.data.id;
  // Never called: it only has to fail to compile, the payment's body being required by the document.
  // @ts-expect-error the body is missing
  const unpaid = () => client.POST('/v1/orders/{id}/payment', { params: { path: { id } }, headers });
  void unpaid;
  const paid = await client.POST('/v1/orders/{id}/payment', {
    params: { path: { id } },
    body: { paymentMethod: 'pm_card_visa' },
    headers,
  });
  return { seen, placed: placed.data.status, paid: paid.data?.status ?? paid.error?.error.code };
}
`;

  it('compiles against the served document and places and pays an order through openapi-fetch', async () => {
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'journey.ts'), JOURNEY);
    writeFileSync(path.join(dir, 'openapi.json'), JSON.stringify(served));
    // The types come from openapi-typescript's command line, as a client's build would run it (the package
    // is ES modules only, which Jest cannot load); tsc then checks the journey against them. The journey
    // imports only types, so it runs meanwhile.
    const generator = path.join(ROOT, 'node_modules', '.bin', 'openapi-typescript');
    const tsc = path.join(ROOT, 'node_modules', '.bin', 'tsc');
    const flags = ['--noEmit', '--strict', '--skipLibCheck', '--target', 'es2022', '--module', 'preserve'];
    const compiled = run(generator, [path.join(dir, 'openapi.json'), '--output', path.join(dir, 'openapi.d.ts')])
      .then(() => run(tsc, [...flags, '--moduleResolution', 'bundler', path.join(dir, 'journey.ts')]))
      .then(
        () => '',
        (error: { stdout?: string; stderr?: string }) => `${error.stdout ?? ''}${error.stderr ?? String(error)}`,
      );

    const product = await newProduct(api.services.inventory, 'client', 3);
    // fetch over app.inject: the contract checker sees every call the client makes.
    const injectFetch = async (input: Request | string | URL, init?: RequestInit) => {
      const request = new Request(input, init);
      const url = new URL(request.url);
      const payload = request.body ? await request.text() : undefined;
      const response = await api.app.inject({
        method: request.method as 'GET',
        url: `${url.pathname}${url.search}`,
        headers: Object.fromEntries(request.headers),
        ...(payload !== undefined ? { payload } : {}),
      });
      const status = response.statusCode;
      const body = status === 204 || status === 304 ? null : response.rawPayload;
      return new Response(body, { status, headers: response.headers as Record<string, string> });
    };
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- the journey is generated at test time
    const { journey } = require(path.join(dir, 'journey.ts')) as {
      journey(fetch: unknown, productId: string, email: string): Promise<Record<string, unknown>>;
    };
    const email = `client-${product.id.slice(0, 8)}@example.com`;
    expect(await journey(injectFetch, product.id, email)).toEqual({
      seen: true,
      placed: 'AWAITING_PAYMENT',
      paid: expect.stringMatching(/^(PAID|COMPLETED)$/),
    });
    expect(await compiled).toBe('');
  });
});
