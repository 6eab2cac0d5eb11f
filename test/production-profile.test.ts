/**
 * The production profile: with NODE_ENV=production the API and the worker refuse to start on
 * each unsafe setting, naming it, before they open a port; with safe settings the built dist/
 * API and worker start and answer. dist/ is run as the image runs it (Dockerfile): it requires
 * only the runtime dependencies the image installs, the worker loads the workflow bundle built
 * with it, and the demo seed refuses production. Prints how long dist/ and tsx take to start and
 * how much memory each holds (numbers for docs/production.md; no timing is asserted).
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';
import { promisify } from 'node:util';
import { build } from '../scripts/build';
import { isPortOpen } from '../devstack/waits';
import { createTestDatabases, type TestDatabases } from './helpers/databases';
import { freePort, waitForHttp } from '../harness/test-infrastructure';
import { testNamespace, workflowBundle } from './helpers/temporal';
import { ROOT, startProgram, type Flavour, type Program, type ServiceProcess } from './helpers/service-process';
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
    // Behind one TLS proxy, as production's Secure cookies assume.
    TRUST_PROXY: '1',
    // The run's Mailpit: the API's account mail needs a mail server in production.
    SMTP_URL: process.env.MAILPIT_SMTP_URL,
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

  if (program === 'api')
    it('refuses to start without SMTP_URL (password reset and verification mail), before opening a port', async () => {
      const { exit, output, portOpened } = await refusal(program, 'dist', { SMTP_URL: undefined });
      expect(exit.code).toBe(78);
      expect(output).toContain('SMTP_URL is not set');
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

  it('the built worker starts and polls, on the workflow bundle built with it', async () => {
    const measure = async (flavour: Flavour) => {
      const env = safeEnv(await freePort());
      // As in the image, where nothing names a bundle: dist/ brings its own.
      if (flavour === 'dist') delete env.WORKFLOW_BUNDLE;
      const worker = startProgram('worker', flavour, env);
      running.push(worker);
      await worker.waitForOutput('workers polling', 120_000);
      const polling = worker.stdoutLines().find((line) => line.includes('workers polling'))!;
      const result = { ms: Date.now() - worker.startedAt, rss: worker.rssMiB(), polling };
      await worker.stop();
      return result;
    };
    const dist = await measure('dist');
    expect(JSON.parse(dist.polling)).toMatchObject({
      workflowBundle: path.join(ROOT, 'dist', 'workflow-bundle.js'),
    });
    const tsx = await measure('tsx');
    console.log(
      `worker start to polling: dist ${dist.ms} ms, tsx ${tsx.ms} ms; RSS: dist ${dist.rss.toFixed(0)} MiB, tsx ${tsx.rss.toFixed(0)} MiB`,
    );
  });
});

describe("the image's dist/", () => {
  const DIST = path.join(ROOT, 'dist');
  const manifest = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
    dependencies: Record<string, string>;
  };
  /** The compiled files, without the workflow bundles (webpack output, self-contained). */
  const compiled = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) return compiled(file);
      return entry.name.endsWith('.js') && !entry.name.startsWith('workflow-bundle') ? [file] : [];
    });

  it('requires only the runtime dependencies the image installs (npm ci --omit=dev), and each of them', () => {
    const required = new Set<string>();
    for (const file of compiled(DIST)) {
      for (const [, specifier] of readFileSync(file, 'utf8').matchAll(/\b(?:require|import)\(\s*['"]([^'"]+)['"]/g)) {
        if (specifier!.startsWith('.') || specifier!.startsWith('node:')) continue;
        const parts = specifier!.split('/');
        const name = specifier!.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
        if (!builtinModules.includes(name)) required.add(name);
      }
    }
    const runtime = Object.keys(manifest.dependencies);
    expect([...required].filter((name) => !runtime.includes(name)).sort()).toEqual([]);
    expect(runtime.filter((name) => !required.has(name)).sort()).toEqual([]);
  });

  it('carries the workflow bundles, built with it', () => {
    for (const file of ['workflow-bundle.js', 'workflow-bundle.traced.js'])
      expect([file, existsSync(path.join(DIST, file))]).toEqual([file, true]);
  });

  it('refuses to seed the demo accounts (published password) in production', async () => {
    const run = promisify(execFile);
    const seeded = run(process.execPath, [path.join(DIST, 'devstack', 'seed.js')], {
      cwd: ROOT,
      env: { ...safeEnv(await freePort()) },
    });
    await expect(seeded).rejects.toMatchObject({
      code: 78,
      stderr: expect.stringContaining('db:seed refuses to run with NODE_ENV=production'),
    });
  });
});
