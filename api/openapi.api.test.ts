/**
 * The served OpenAPI document, linted as client generators and API portals read it: Spectral's
 * standard `spectral:oas` ruleset (.spectral.yaml), failing on any error or warning; and every
 * operation named by a unique, stable operationId, with a summary and a description from its route;
 * and every string a request can carry refuses text PostgreSQL cannot store (api/schemas.ts Text).
 */
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import fc from 'fast-check';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { startApiHarness, type ApiHarness } from '../test/helpers/api';
import { valid, type JsonSchema } from '../test/fuzz/arbitraries';

jest.setTimeout(60_000);

const ROOT = path.resolve(__dirname, '..');
const run = promisify(execFile);

interface SpectralResult {
  code: string;
  message: string;
  path: string[];
  severity: number;
}

let api: ApiHarness;
interface Operation {
  operationId?: string;
  summary?: string;
  description?: string;
  parameters?: { in: string; name: string; schema: JsonSchema }[];
  requestBody?: { content?: Record<string, { schema?: JsonSchema }> };
}
let document: { paths: Record<string, Record<string, Operation>> };

/**
 * The operationIds clients are generated with: each names a method in every generated client, so
 * renaming one breaks them all. A change to this list is a change to the API's contract.
 */
const PUBLISHED_OPERATION_IDS = {
  'GET /healthz': 'getHealth',
  'GET /readyz': 'getReadiness',
  'POST /v1/auth/signup': 'signUp',
  'POST /v1/auth/signin': 'signIn',
  'POST /v1/auth/signout': 'signOut',
  'POST /v1/auth/signout-everywhere': 'signOutEverywhere',
  'POST /v1/auth/password': 'changePassword',
  'POST /v1/auth/password-reset': 'requestPasswordReset',
  'POST /v1/auth/password-reset/confirm': 'resetPassword',
  'POST /v1/auth/verify-email': 'verifyEmail',
  'POST /v1/auth/verify-email/resend': 'resendVerification',
  'GET /v1/auth/me': 'getCurrentUser',
  'POST /v1/auth/dev-token': 'createDevToken',
  'GET /v1/auth/demo-accounts': 'listDemoAccounts',
  'GET /v1/products': 'listProducts',
  'POST /v1/products': 'createProduct',
  'GET /v1/products/{id}': 'getProduct',
  'PATCH /v1/products/{id}': 'updateProduct',
  'POST /v1/products/{id}/stock': 'adjustProductStock',
  'GET /v1/cart': 'getCart',
  'PUT /v1/cart/items/{productId}': 'setCartItem',
  'DELETE /v1/cart/items/{productId}': 'removeCartItem',
  'POST /v1/orders': 'placeOrder',
  'GET /v1/orders': 'listOrders',
  'GET /v1/orders/{id}': 'getOrder',
  'POST /v1/orders/{id}/payment': 'payOrder',
  'POST /v1/orders/{id}/cancel': 'cancelOrder',
  'POST /v1/orders/{id}/refunds': 'refundOrder',
  'POST /v1/webhooks/stripe': 'receiveStripeWebhook',
  'POST /v1/usage': 'recordUsage',
  'GET /v1/quota': 'getQuota',
  'GET /v1/notifications': 'listNotifications',
  'POST /v1/notifications/{id}/read': 'markNotificationRead',
  'GET /v1/notifications/stream': 'streamNotifications',
  // Served only when payload encryption is on (not in this harness).
  'POST /codec/decode': 'codecDecode',
  'POST /codec/encode': 'codecEncode',
};
const ONLY_WITH_ENCRYPTION = /^POST \/codec\//;

beforeAll(async () => {
  api = await startApiHarness();
  document = (await api.app.inject({ method: 'GET', url: '/docs/json' })).json();
});
afterAll(async () => api?.close());

it('has no Spectral spectral:oas error or warning', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'openapi-lint-'));
  try {
    const file = path.join(dir, 'openapi.json');
    writeFileSync(file, JSON.stringify(document));
    const spectral = path.join(ROOT, 'node_modules', '.bin', 'spectral');
    const args = [
      'lint',
      file,
      '--ruleset',
      path.join(ROOT, '.spectral.yaml'),
      '--format',
      'json',
      '--quiet',
      '--fail-severity',
      'warn',
    ];
    // Spectral exits non-zero when it finds anything at or above --fail-severity; its report is on stdout either way.
    const outcome = await run(spectral, args, { cwd: ROOT }).then(
      ({ stdout }) => ({ code: 0, stdout, stderr: '' }),
      (error: { code?: number; stdout?: string; stderr?: string }) => ({
        code: error.code ?? 1,
        stdout: error.stdout ?? '',
        stderr: error.stderr ?? '',
      }),
    );
    const results = JSON.parse(outcome.stdout.trim() || '[]') as SpectralResult[];
    expect(results.map((r) => `${r.code} at ${r.path.join('.')}: ${r.message}`)).toEqual([]);
    // No findings and a clean exit: a Spectral that failed to run at all must not pass for a clean document.
    expect({ code: outcome.code, stderr: outcome.stderr }).toEqual({ code: 0, stderr: '' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

it('names every operation with its published operationId, each used once, with a summary and a description', () => {
  const served = Object.entries(document.paths).flatMap(([route, methods]) =>
    Object.entries(methods).map(([method, operation]) => ({ key: `${method.toUpperCase()} ${route}`, ...operation })),
  );
  const expected = Object.entries(PUBLISHED_OPERATION_IDS).filter(([key]) => !ONLY_WITH_ENCRYPTION.test(key));
  expect(Object.fromEntries(served.map(({ key, operationId }) => [key, operationId]))).toEqual(
    Object.fromEntries(expected),
  );
  for (const { key, summary, description } of served) {
    expect({ key, summary: typeof summary, description: typeof description }).toEqual({
      key,
      summary: 'string',
      description: 'string',
    });
  }
  const ids = served.map((operation) => operation.operationId);
  expect(new Set(ids).size).toBe(ids.length);
});

/** Every string schema in a request schema (a body, a parameter), with where it is; and every place that takes any value at all. */
function requestStrings(schema: JsonSchema, at: string, found: { at: string; schema: JsonSchema }[], open: string[]) {
  const node = schema as JsonSchema & {
    allOf?: JsonSchema[];
    patternProperties?: Record<string, JsonSchema>;
    propertyNames?: JsonSchema;
  };
  if (node.enum !== undefined || node.const !== undefined) return;
  const types = [node.type ?? []].flat();
  if (types.includes('string')) found.push({ at, schema: node });
  for (const [key, property] of Object.entries(node.properties ?? {}))
    requestStrings(property, `${at}.${key}`, found, open);
  if (node.items) requestStrings(node.items, `${at}[]`, found, open);
  for (const member of [...(node.anyOf ?? []), ...(node.oneOf ?? []), ...(node.allOf ?? [])])
    requestStrings(member, at, found, open);
  if (typeof node.additionalProperties === 'object') requestStrings(node.additionalProperties, `${at}.*`, found, open);
  for (const value of Object.values(node.patternProperties ?? {})) requestStrings(value, `${at}.*`, found, open);
  if (node.propertyNames) requestStrings(node.propertyNames, `${at}{key}`, found, open);
  const combined = node.anyOf ?? node.oneOf ?? node.allOf;
  if (types.length === 0 && !combined) open.push(`${at}: any value`);
  if (
    types.includes('object') &&
    node.additionalProperties !== false &&
    node.additionalProperties === undefined &&
    !node.patternProperties
  )
    open.push(`${at}: any field`);
}

it('refuses text PostgreSQL cannot store in every string a request carries: parameters, headers and bodies', () => {
  // Compiled as Fastify compiles route schemas (ajv 8, patterns with the `u` flag, ajv-formats).
  const ajv = new Ajv({ strict: false, coerceTypes: 'array', useDefaults: true });
  addFormats(ajv);
  const found: { at: string; schema: JsonSchema }[] = [];
  const open: string[] = [];
  for (const [route, methods] of Object.entries(document.paths)) {
    for (const [method, operation] of Object.entries(methods)) {
      const where = `${method.toUpperCase()} ${route}`;
      for (const parameter of operation.parameters ?? [])
        requestStrings(parameter.schema, `${where} ${parameter.in}.${parameter.name}`, found, open);
      const body = operation.requestBody?.content?.['application/json']?.schema;
      if (body) requestStrings(body, `${where} body`, found, open);
    }
  }
  expect(open).toEqual([]);
  const wrong: string[] = [];
  for (const { at, schema } of found) {
    const accepts = ajv.compile(schema);
    // A valid sample with its first character made NUL or a lone surrogate must be refused. (The
    // generator counts UTF-16 units, ajv code points: a sample with astral characters can be too short.)
    const samples = (fc.sample(valid(schema), { seed: 29, numRuns: 20 }) as string[]).filter((s) => accepts(s));
    if (samples.length === 0) wrong.push(`${at}: no valid sample to try`);
    for (const sample of samples) {
      for (const bad of ['\u0000', '\udc00']) {
        const unstorable = sample.length > 0 ? bad + sample.slice(1) : bad;
        if (accepts(unstorable)) wrong.push(`${at} accepts ${JSON.stringify(unstorable)}`);
      }
    }
  }
  expect([...new Set(wrong)]).toEqual([]);
  // The walk reaches fields inside unions, arrays, headers and record keys.
  expect(found.map(({ at }) => at)).toEqual(
    expect.arrayContaining([
      'POST /v1/orders/{id}/cancel body.reason',
      'POST /v1/orders/{id}/payment body.paymentMethod',
      'POST /v1/orders body.items[].productId',
      'POST /v1/orders header.idempotency-key',
      'POST /v1/auth/signin body.email',
      'GET /v1/notifications/stream query.access_token',
      'GET /v1/orders/{id} path.id',
    ]),
  );
});
