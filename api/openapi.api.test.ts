/**
 * The served OpenAPI document, linted as client generators and API portals read it: Spectral's
 * standard `spectral:oas` ruleset (.spectral.yaml), failing on any error or warning; and every
 * operation named by a unique, stable operationId, with a summary and a description from its route.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { startApiHarness, type ApiHarness } from '../test/helpers/api';

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
