/**
 * `npm start` from a pristine copy of the repository: only the files git tracks, so no generated
 * Prisma clients and no `.data/`, as a new user's clone has. node_modules is linked from this
 * checkout to keep the test short (installing is tested in scripts/start.test.ts). The launcher must
 * generate what it needs before it imports it, come up with the seeded demo, and stop cleanly.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isPortOpen, waitForHttp, waitUntil } from '../devstack/waits';
import { DEMO_PASSWORD } from '../services/accounts/demo-accounts';
import {
  expectCleanStop,
  launchStack,
  READY_LINE,
  stackSandbox,
  whenUp,
  type LaunchedStack,
} from './helpers/stack-process';

jest.setTimeout(240_000);

const ROOT = path.resolve(__dirname, '..');

/** The tracked files of this checkout, as they stand in the working tree, copied to a new folder. */
function pristineCopy(): string {
  const copy = mkdtempSync(path.join(os.tmpdir(), 'storefront-fresh-clone-'));
  const tracked = execFileSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8' }).split('\0').filter(Boolean);
  for (const file of tracked) {
    const from = path.join(ROOT, file);
    if (!existsSync(from)) continue; // deleted in the working tree, not yet committed
    mkdirSync(path.dirname(path.join(copy, file)), { recursive: true });
    cpSync(from, path.join(copy, file));
  }
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(copy, 'node_modules'), 'dir');
  return copy;
}

let copy: string;
let sandbox: ReturnType<typeof stackSandbox>;
let stack: LaunchedStack | undefined;

beforeAll(() => {
  copy = pristineCopy();
  sandbox = stackSandbox('fresh_clone');
});

afterAll(async () => {
  if (stack && stack.child.exitCode === null && stack.child.signalCode === null) {
    stack.child.kill('SIGKILL');
    await stack.exited;
  }
  await sandbox?.dispose();
  if (copy) rmSync(copy, { recursive: true, force: true });
});

it('starts from a copy with no generated clients and no .data, serves the seeded demo, and stops leaving nothing', async () => {
  expect(existsSync(path.join(copy, 'services', 'inventory', 'generated'))).toBe(false);
  expect(existsSync(path.join(copy, '.data'))).toBe(false);

  // The copy's own data directory, as a fresh clone's `npm start` would use.
  const env = await sandbox.env({ STOREFRONT_DATA_DIR: path.join(copy, '.data'), LOG_LEVEL: 'info' });
  const base = `http://127.0.0.1:${env.PORT}`;
  const launched = launchStack(env, copy);
  stack = launched;
  await whenUp(launched, async () => {
    await waitForHttp(`${base}/healthz`, 'the API', { timeoutMs: 180_000, intervalMs: 250 });
    await waitUntil('the stack to be ready', async () => launched.output().includes(READY_LINE), { timeoutMs: 30_000 });
  });
  expect(existsSync(path.join(copy, 'services', 'inventory', 'generated', 'client.ts'))).toBe(true);

  // A console a person can read: progress lines and the URLs, no raw JSON; the logs are in files.
  const consoleLines = launched.output().trimEnd().split('\n');
  expect(consoleLines.filter((line) => /^\s*(\[[\w-]+\] )?\{/.test(line))).toEqual([]);
  expect(consoleLines.length).toBeLessThanOrEqual(32);
  expect(launched.output()).toContain(`Logs          ${path.join(copy, '.data', 'logs')}`);
  expect(readFileSync(path.join(copy, '.data', 'logs', 'worker.log'), 'utf8')).toMatch(/^\{.*"msg":"workers polling/m);
  expect(readFileSync(path.join(copy, '.data', 'logs', 'api.log'), 'utf8')).not.toBe('');

  // The seeded demo: carol is at 130 of the free plan's 100 builds.
  const signedIn = await fetch(`${base}/v1/auth/signin`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: 'carol@example.com', password: DEMO_PASSWORD }),
  });
  expect(signedIn.status).toBe(200);
  const { token } = (await signedIn.json()) as { token: string };
  const quota = (await (await fetch(`${base}/v1/quota`, { headers: { authorization: `Bearer ${token}` } })).json()) as {
    plan: string;
    resources: Array<{ resource: string; used: number; limit: number }>;
  };
  expect(quota.plan).toBe('free');
  expect(quota.resources.find((r) => r.resource === 'builds')).toMatchObject({ used: 130, limit: 100 });

  await expectCleanStop(launched);
  expect(await isPortOpen(Number(env.PORT))).toBe(false);
  expect(await isPortOpen(Number(env.TEMPORAL_PORT))).toBe(false);
});
