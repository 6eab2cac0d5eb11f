/**
 * End to end: `scripts/stack.ts` as a real process on free ports, against the local PostgreSQL with
 * databases of its own; it must come up healthy, and leave no process behind after SIGTERM.
 */
import net from 'node:net';
import { descendantsOf, listProcesses, type ProcessInfo } from '../harness/process-table';
import { isPortOpen, waitForHttp, waitUntil } from '../harness/waits';
import { launchStack as launch, stackSandbox } from './helpers/stack-process';

jest.setTimeout(180_000);

function stillRunning(processes: ProcessInfo[]): ProcessInfo[] {
  const now = listProcesses();
  // pid and start time together: a pid reused by an unrelated new process does not count.
  return processes.filter((old) =>
    now.some((info) => info.pid === old.pid && info.startTime === old.startTime && info.state !== 'Z'),
  );
}

describe('npm start (scripts/stack.ts)', () => {
  let sandbox: ReturnType<typeof stackSandbox>;
  beforeAll(() => {
    sandbox = stackSandbox('stack_e2e');
  });
  afterAll(async () => sandbox?.dispose());
  const stackEnv = () => sandbox.env();

  it('comes up healthy with the Temporal UI, and stops every process it started on SIGTERM', async () => {
    const env = await stackEnv();
    const stack = launch(env);
    try {
      await waitForHttp(`http://127.0.0.1:${env.PORT}/healthz`, 'the API', { timeoutMs: 150_000, intervalMs: 250 });
      await waitUntil('the Temporal UI', () => isPortOpen(Number(env.TEMPORAL_UI_PORT)), { timeoutMs: 10_000 });
      await waitUntil('the URLs to be printed', async () => stack.output().includes('Press Ctrl-C to stop.'), {
        timeoutMs: 10_000,
      });
    } catch (error) {
      stack.child.kill('SIGKILL');
      throw new Error(`${(error as Error).message}\n--- stack output ---\n${stack.output()}`);
    }
    expect(stack.output()).toContain(`Temporal UI   http://127.0.0.1:${env.TEMPORAL_UI_PORT}`);

    const started = descendantsOf(stack.child.pid!);
    expect(started.length).toBeGreaterThanOrEqual(4); // temporal, stripe-mock, worker, api (and their helpers)

    stack.child.kill('SIGTERM');
    const exit = await stack.exited;

    expect(exit).toEqual({ code: 0, signal: null });
    await waitUntil('every process the stack started to be gone', async () => stillRunning(started).length === 0, {
      timeoutMs: 5_000,
    }).catch(() => undefined);
    expect(stillRunning(started)).toEqual([]);
    expect(await isPortOpen(Number(env.PORT))).toBe(false);
    expect(await isPortOpen(Number(env.TEMPORAL_PORT))).toBe(false);
  });

  it('stops what a launcher killed with SIGKILL left running, on the next start', async () => {
    const env = await stackEnv();
    const first = launch(env);
    await waitUntil('the first start to be ready', async () => first.output().includes('Press Ctrl-C to stop.'), {
      timeoutMs: 150_000,
    }).catch((error: Error) => {
      first.child.kill('SIGKILL');
      throw new Error(`${error.message}\n--- stack output ---\n${first.output()}`);
    });
    const orphans = descendantsOf(first.child.pid!);
    first.child.kill('SIGKILL');
    await first.exited;
    expect(stillRunning(orphans).length).toBeGreaterThan(0); // detached children outlive a SIGKILLed launcher

    const second = launch(env);
    try {
      await waitUntil('the second start to be ready', async () => second.output().includes('Press Ctrl-C to stop.'), {
        timeoutMs: 150_000,
      });
      expect(second.output()).toContain('stopping what an earlier start left running');
      expect(stillRunning(orphans)).toEqual([]);
    } catch (error) {
      second.child.kill('SIGKILL');
      throw new Error(`${(error as Error).message}\n--- stack output ---\n${second.output()}`);
    }
    const started = descendantsOf(second.child.pid!);
    second.child.kill('SIGTERM');
    expect(await second.exited).toEqual({ code: 0, signal: null });
    await waitUntil('every process to be gone', async () => stillRunning(started).length === 0, {
      timeoutMs: 5_000,
    }).catch(() => undefined);
    expect(stillRunning(started)).toEqual([]);
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
