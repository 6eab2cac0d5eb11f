/**
 * The production profile: with NODE_ENV=production the API and the worker refuse to start on
 * each unsafe setting, naming it, before they open a port; with safe settings the built dist/
 * API and worker start and answer. Prints how long dist/ and tsx take to start and how much
 * memory each holds (numbers for docs/production.md; no timing is asserted).
 */
import { randomBytes } from 'node:crypto';
import { build } from '../scripts/build';
import { isPortOpen } from '../devstack/waits';
import { createTestDatabases, type TestDatabases } from './helpers/databases';
import { freePort, waitForHttp } from '../harness/test-infrastructure';
import { testNamespace, workflowBundle } from './helpers/temporal';
import { startProgram, type Flavour, type Program, type ServiceProcess } from './helpers/service-process';
import { HISTORY_TEST_ENCRYPTION_KEYS } from '../harness/history-encryption';
import { databaseUrlEnv } from '../lib/config';

jest.setTimeout(10 * 60_000);

let dbs: TestDatabases;
const running: ServiceProcess[] = [];

beforeAll(async () => {
  [dbs] = await Promise.all([createTestDatabases(), build()]);
}, 10 * 60_000);

afterAll(async () => {
  await Promise.all(running.map((process) => process.stop()));
  await dbs?.dispose();
});

/** Settings a real deployment would have: every secret its own and strong, Stripe a real account's key. */
function safeEnv(port: number): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    ...databaseUrlEnv(dbs.urls),
    // The run's bundle: a worker that bundled for itself would spend seconds of CPU on it.
    WORKFLOW_BUNDLE: workflowBundle().codePath,
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    PORT: String(port),
    JWT_SECRET: randomBytes(32).toString('hex'),
    STRIPE_WEBHOOK_SECRET: `whsec_${randomBytes(16).toString('hex')}`,
    STRIPE_SECRET_KEY: `sk_test_${randomBytes(12).toString('hex')}`,
    TEMPORAL_ADDRESS: process.env.TEMPORAL_ADDRESS,
    TEMPORAL_NAMESPACE: testNamespace(),
    WORKER_METRICS_PORT: '0',
    LOG_LEVEL: 'info',
  };
  return env;
}

const UNSAFE: [string, string, Record<string, string | undefined>][] = [
  ['JWT_SECRET missing', 'JWT_SECRET', { JWT_SECRET: undefined }],
  ['JWT_SECRET the local default', 'JWT_SECRET', { JWT_SECRET: 'local-development-secret-change-me-in-production' }],
  ['JWT_SECRET short', 'JWT_SECRET', { JWT_SECRET: 'x'.repeat(31) }],
  ['STRIPE_WEBHOOK_SECRET missing', 'STRIPE_WEBHOOK_SECRET', { STRIPE_WEBHOOK_SECRET: undefined }],
  [
    'STRIPE_WEBHOOK_SECRET the default',
    'STRIPE_WEBHOOK_SECRET',
    { STRIPE_WEBHOOK_SECRET: 'whsec_local_development_secret' },
  ],
  ['ALLOW_DEV_TOKENS=true', 'ALLOW_DEV_TOKENS', { ALLOW_DEV_TOKENS: 'true' }],
  ['no STRIPE_SECRET_KEY (stripe-mock)', 'STRIPE_SECRET_KEY', { STRIPE_SECRET_KEY: undefined }],
  ["stripe-mock's key", 'STRIPE_SECRET_KEY', { STRIPE_SECRET_KEY: 'sk_test_123' }],
  [
    "the histories' test-only payload key",
    'PAYLOAD_ENCRYPTION_KEYS',
    { PAYLOAD_ENCRYPTION_KEYS: HISTORY_TEST_ENCRYPTION_KEYS },
  ],
];

async function refusal(program: Program, flavour: Flavour, overrides: Record<string, string | undefined>) {
  const port = await freePort();
  const env = { ...safeEnv(port), ...overrides };
  for (const [name, value] of Object.entries(overrides)) if (value === undefined) delete env[name];
  const started = startProgram(program, flavour, env);
  const exit = await started.exited;
  return { exit, output: started.output(), portOpened: await isPortOpen(port) };
}

describe.each<[Program]>([['api'], ['worker']])('the %s in production', (program) => {
  it.each(UNSAFE)('refuses to start with %s, naming %s, before opening a port', async (_case, setting, overrides) => {
    const { exit, output, portOpened } = await refusal(program, 'dist', overrides);
    expect(exit.code).toBe(78);
    expect(output).toContain('refuses to start with NODE_ENV=production');
    expect(output).toContain(setting);
    expect(output).not.toMatch(/Server listening|workers polling/);
    expect(portOpened).toBe(false);
  });

  it('names every problem at once, from the sources (tsx) too', async () => {
    const { exit, output } = await refusal(program, 'tsx', {
      JWT_SECRET: 'short',
      STRIPE_WEBHOOK_SECRET: undefined,
      ALLOW_DEV_TOKENS: 'true',
      STRIPE_SECRET_KEY: undefined,
    });
    expect(exit.code).toBe(78);
    for (const setting of ['JWT_SECRET', 'STRIPE_WEBHOOK_SECRET', 'ALLOW_DEV_TOKENS', 'STRIPE_SECRET_KEY'])
      expect(output).toContain(setting);
  });
});

describe('with safe settings', () => {
  async function startApi(flavour: Flavour) {
    const port = await freePort();
    const api = startProgram('api', flavour, safeEnv(port));
    running.push(api);
    await waitForHttp(`http://127.0.0.1:${port}/healthz`, `the ${flavour} API`, { timeoutMs: 120_000, intervalMs: 25 });
    const readyMs = Date.now() - api.startedAt;
    return { api, port, readyMs, rss: api.rssMiB() };
  }

  it('the built API starts, answers, keeps dev tokens off and sets Secure cookies', async () => {
    const { api, port, readyMs, rss } = await startApi('dist');
    const base = `http://127.0.0.1:${port}`;
    expect((await fetch(`${base}/v1/products`)).status).toBe(200);
    const devToken = await fetch(`${base}/v1/auth/dev-token`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ userId: 'mallory', role: 'admin' }),
    });
    expect(devToken.status).toBe(404);
    const signUp = await fetch(`${base}/v1/auth/signup`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'prod@example.com', password: 'a production password' }),
    });
    expect(signUp.status).toBe(201);
    expect(
      signUp.headers.getSetCookie().every((cookie) => /; Secure/i.test(cookie) && /SameSite=Lax/i.test(cookie)),
    ).toBe(true);
    const tsx = await startApi('tsx');
    console.log(
      `API start to /healthz: dist ${readyMs} ms, tsx ${tsx.readyMs} ms; RSS after start: dist ${rss.toFixed(0)} MiB, tsx ${tsx.rss.toFixed(0)} MiB`,
    );
    await Promise.all([api.stop(), tsx.api.stop()]);
  });

  it('the built worker starts and polls', async () => {
    const measure = async (flavour: Flavour) => {
      const worker = startProgram('worker', flavour, safeEnv(await freePort()));
      running.push(worker);
      await worker.waitForOutput('workers polling', 120_000);
      const result = { ms: Date.now() - worker.startedAt, rss: worker.rssMiB() };
      await worker.stop();
      return result;
    };
    const dist = await measure('dist');
    const tsx = await measure('tsx');
    console.log(
      `worker start to polling: dist ${dist.ms} ms, tsx ${tsx.ms} ms; RSS: dist ${dist.rss.toFixed(0)} MiB, tsx ${tsx.rss.toFixed(0)} MiB`,
    );
  });
});
