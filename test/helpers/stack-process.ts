/**
 * `devstack/local-stack.ts` (what `npm start` runs) as a real process for end-to-end tests: on free
 * ports, with a data directory and databases of the test's own, so it never touches a
 * developer's storefront_* databases or a running `npm start`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { LOCAL_POSTGRES_URL, withDatabase, databaseUrlEnv } from '../../lib/config';
import { SERVICES } from '../../lib/service-names';
import { descendantsOf, listProcesses, type ProcessInfo } from '../../devstack/process-table';
import { freePort } from '../../devstack/ports';
import { waitUntil } from '../../devstack/waits';

const ROOT = path.resolve(__dirname, '../..');
export const STACK_SERVER_URL = process.env.STACK_TEST_DATABASE_URL || LOCAL_POSTGRES_URL;

export interface LaunchedStack {
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Runs the launcher of the checkout at `root` (this one by default, or a pristine copy of it). */
export function launchStack(env: NodeJS.ProcessEnv, root: string = ROOT): LaunchedStack {
  let output = '';
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'devstack', 'local-stack.ts')], {
    cwd: root,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, output: () => output, exited };
}

/** The stack's launcher printed this last, once everything it starts is up. */
export const READY_LINE = 'Press Ctrl-C to stop.';

/** Waits for `ready`; if that fails, kills the launcher and fails with what the stack printed, which says why. */
export async function whenUp(stack: LaunchedStack, ready: () => Promise<unknown>): Promise<void> {
  try {
    await ready();
  } catch (error) {
    stack.child.kill('SIGKILL');
    throw new Error(`${(error as Error).message}
--- stack output ---
${stack.output()}`);
  }
}

/** Those of `processes` still alive: pid and start time together, so a pid reused by a new process does not count. */
export function stillRunning(processes: ProcessInfo[]): ProcessInfo[] {
  const now = listProcesses();
  return processes.filter((old) =>
    now.some((info) => info.pid === old.pid && info.startTime === old.startTime && info.state !== 'Z'),
  );
}

/** Stops the stack with SIGTERM, as Ctrl-C does, and asserts it exits 0 leaving none of `started` running. */
export async function expectCleanStop(
  stack: LaunchedStack,
  started: ProcessInfo[] = descendantsOf(stack.child.pid!),
): Promise<void> {
  stack.child.kill('SIGTERM');
  expect(await stack.exited).toEqual({ code: 0, signal: null });
  await waitUntil('every process the stack started to be gone', async () => stillRunning(started).length === 0, {
    timeoutMs: 5_000,
  }).catch(() => undefined);
  expect(stillRunning(started)).toEqual([]);
}

/** A data directory and six database names for one test file, and the cleanup of both. */
export function stackSandbox(label: string) {
  const suffix = `${process.pid}_${Date.now().toString(36)}`;
  const databases = SERVICES.map((service) => `${label}_${suffix}_${service}`);
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'storefront-stack-'));

  return {
    dataDir,
    databases,
    /** The launcher's environment on free ports; `extra` wins over the defaults. */
    async env(extra: Record<string, string> = {}): Promise<NodeJS.ProcessEnv & Record<string, string>> {
      const [api, temporal, ui, stripe, stripeHttps, mailSmtp, mailUi] = await Promise.all([
        freePort(),
        freePort(),
        freePort(),
        freePort(),
        freePort(),
        freePort(),
        freePort(),
      ]);
      const env: NodeJS.ProcessEnv & Record<string, string> = {
        ...process.env,
        PORT: String(api),
        TEMPORAL_PORT: String(temporal),
        TEMPORAL_UI_PORT: String(ui),
        STRIPE_MOCK_PORT: String(stripe),
        STRIPE_MOCK_HTTPS_PORT: String(stripeHttps),
        MAILPIT_SMTP_PORT: String(mailSmtp),
        MAILPIT_PORT: String(mailUi),
        STOREFRONT_DATA_DIR: dataDir,
        DATABASE_URL: STACK_SERVER_URL,
        LOG_LEVEL: 'warn',
        ...extra,
      };
      Object.assign(
        env,
        databaseUrlEnv(
          Object.fromEntries(SERVICES.map((service, i) => [service, withDatabase(STACK_SERVER_URL, databases[i]!)])),
        ),
      );
      delete env.STRIPE_SECRET_KEY;
      delete env.TEMPORAL_ADDRESS;
      return env;
    },
    async dispose(): Promise<void> {
      rmSync(dataDir, { recursive: true, force: true });
      const admin = new Client({ connectionString: STACK_SERVER_URL });
      await admin.connect();
      try {
        for (const database of databases) await admin.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
      } finally {
        await admin.end();
      }
    },
  };
}
