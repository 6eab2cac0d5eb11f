/**
 * End to end: `devstack/local-stack.ts` as a real process on free ports, against the local PostgreSQL with
 * databases of its own; it must come up healthy, and leave no process behind after SIGTERM.
 */
import net from 'node:net';
import { descendantsOf } from '../devstack/process-table';
import { isPortOpen, waitForHttp, waitUntil } from '../devstack/waits';
import {
  expectCleanStop,
  launchStack as launch,
  READY_LINE,
  stackSandbox,
  stillRunning,
  whenUp,
} from './helpers/stack-process';

jest.setTimeout(180_000);

describe('npm start (devstack/local-stack.ts)', () => {
  let sandbox: ReturnType<typeof stackSandbox>;
  beforeAll(() => {
    sandbox = stackSandbox('stack_e2e');
  });
  afterAll(async () => sandbox?.dispose());
  const stackEnv = () => sandbox.env();

  it('comes up healthy with the Temporal UI and Mailpit, and stops every process it started on SIGTERM', async () => {
    const env = await stackEnv();
    const stack = launch(env);
    await whenUp(stack, async () => {
      await waitForHttp(`http://127.0.0.1:${env.PORT}/healthz`, 'the API', { timeoutMs: 150_000, intervalMs: 250 });
      await waitUntil('the Temporal UI', () => isPortOpen(Number(env.TEMPORAL_UI_PORT)), { timeoutMs: 10_000 });
      await waitUntil('the URLs to be printed', async () => stack.output().includes(READY_LINE), { timeoutMs: 10_000 });
    });
    expect(stack.output()).toContain(`Temporal UI   http://127.0.0.1:${env.TEMPORAL_UI_PORT}`);
    // Mailpit, the local mail server, with its web UI printed, where the account mail arrives.
    expect(stack.output()).toContain(`Mailpit       http://127.0.0.1:${env.MAILPIT_PORT}`);
    await waitForHttp(`http://127.0.0.1:${env.MAILPIT_PORT}/readyz`, 'Mailpit', { timeoutMs: 10_000 });

    const started = descendantsOf(stack.child.pid!);
    expect(started.length).toBeGreaterThanOrEqual(4); // temporal, stripe-mock, worker, api (and their helpers)

    await expectCleanStop(stack, started);
    expect(await isPortOpen(Number(env.PORT))).toBe(false);
    expect(await isPortOpen(Number(env.TEMPORAL_PORT))).toBe(false);
  });

  it('stops what a launcher killed with SIGKILL left running, on the next start', async () => {
    const env = await stackEnv();
    const first = launch(env);
    await whenUp(first, () =>
      waitUntil('the first start to be ready', async () => first.output().includes(READY_LINE), { timeoutMs: 150_000 }),
    );
    const orphans = descendantsOf(first.child.pid!);
    first.child.kill('SIGKILL');
    await first.exited;
    expect(stillRunning(orphans).length).toBeGreaterThan(0); // detached children outlive a SIGKILLed launcher

    const second = launch(env);
    await whenUp(second, async () => {
      await waitUntil('the second start to be ready', async () => second.output().includes(READY_LINE), {
        timeoutMs: 150_000,
      });
      expect(second.output()).toContain('stopping what an earlier start left running');
      expect(stillRunning(orphans)).toEqual([]);
    });
    await expectCleanStop(second);
  });

  it('refuses to start, naming the port and its variable, when a port is taken', async () => {
    const env = await stackEnv();
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(Number(env.TEMPORAL_PORT), '127.0.0.1', resolve));
    try {
      const stack = launch(env);
      const exit = await stack.exited;

      expect(exit.code).toBe(1);
      expect(stack.output()).toContain(
        `Port ${env.TEMPORAL_PORT} (Temporal frontend, TEMPORAL_PORT) is already in use: stop what uses it or set TEMPORAL_PORT`,
      );
      expect(stack.output()).not.toContain('[temporal]');
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });
});
