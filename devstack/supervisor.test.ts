import net from 'node:net';
import { freePort } from './ports';
import { PortInUseError, assertPortFree, waitUntil } from './waits';
import { Supervisor } from './supervisor';
import { descendantsOf, listProcesses } from './process-table';

/** A shell that starts a child which starts a grandchild, all ignoring nothing; prints the grandchild's pid. */
const TREE_SCRIPT = `
  sh -c 'sleep 300 & echo "grandchild $!"; wait' &
  wait
`;

/** Like TREE_SCRIPT, but every level ignores SIGTERM, so only SIGKILL ends them. */
const STUBBORN_SCRIPT = `
  trap '' TERM
  sh -c 'trap "" TERM; sleep 300 & echo "grandchild $!"; wait' &
  wait
`;

function alive(pid: number): boolean {
  return listProcesses().some((info) => info.pid === pid && info.state !== 'Z');
}

async function startTree(
  supervisor: Supervisor,
  name: string,
  script: string,
): Promise<{ pid: number; grandchild: number }> {
  let grandchild = 0;
  const proc = supervisor.start({
    name,
    command: 'sh',
    args: ['-c', script],
    write: (line) => {
      const match = /grandchild (\d+)/.exec(line);
      if (match) grandchild = Number(match[1]);
    },
  });
  await waitUntil('the grandchild to start', async () => grandchild > 0 && alive(grandchild), { timeoutMs: 5_000 });
  return { pid: proc.pid, grandchild };
}

describe('Supervisor', () => {
  it('stops a process tree it started, grandchildren included', async () => {
    const supervisor = new Supervisor();
    const { pid, grandchild } = await startTree(supervisor, 'tree', TREE_SCRIPT);
    const tree = [pid, ...descendantsOf(pid).map((info) => info.pid)];
    expect(tree).toContain(grandchild);
    expect(tree.length).toBeGreaterThanOrEqual(3);

    await supervisor.stopAll({ timeoutMs: 5_000 });

    expect(tree.filter(alive)).toEqual([]);
  });

  it('kills a group that ignores SIGTERM once the timeout passes', async () => {
    const supervisor = new Supervisor();
    const { pid, grandchild } = await startTree(supervisor, 'stubborn', STUBBORN_SCRIPT);
    const started = Date.now();

    await supervisor.stopAll({ timeoutMs: 500 });

    expect(Date.now() - started).toBeGreaterThanOrEqual(500);
    expect([pid, grandchild].filter(alive)).toEqual([]);
  });

  it('reports a child that exits on its own, and prefixes its output with its name', async () => {
    const supervisor = new Supervisor();
    const lines: string[] = [];
    const exits: string[] = [];
    supervisor.onUnexpectedExit((proc, code) => exits.push(`${proc.name}:${code}`));
    const proc = supervisor.start({
      name: 'short',
      command: 'sh',
      args: ['-c', 'echo hello; exit 3'],
      write: (line) => lines.push(line),
    });

    await proc.waitForOutput(/^hel+o$/, { timeoutMs: 2_000 });
    await expect(proc.exited).resolves.toEqual({ code: 3, signal: null });
    await waitUntil('the output', async () => lines.length > 0, { timeoutMs: 2_000 });
    expect(lines).toEqual(['[short] hello']);
    expect(exits).toEqual(['short:3']);
    await supervisor.stopAll();
  });

  it('does not count a process it stops as an unexpected exit', async () => {
    const supervisor = new Supervisor();
    const exits: string[] = [];
    supervisor.onUnexpectedExit((proc) => exits.push(proc.name));
    supervisor.start({ name: 'first', command: 'sleep', args: ['30'] });
    supervisor.start({ name: 'second', command: 'sleep', args: ['30'] });

    await supervisor.stop(['first']);
    await supervisor.stopAll();

    expect(exits).toEqual([]);
  });

  it('fails a wait for output with the name of a process that exited first', async () => {
    const supervisor = new Supervisor();
    const proc = supervisor.start({ name: 'quitter', command: 'sh', args: ['-c', 'exit 2'], output: 'ignore' });

    await expect(proc.waitForOutput(/ready/, { timeoutMs: 5_000 })).rejects.toThrow(
      'quitter exited (code 2) before printing /ready/',
    );
  });
});

describe('assertPortFree', () => {
  it('names the port, what it is for and the variable that moves it', async () => {
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;
    try {
      const failure = assertPortFree(port, 'Temporal frontend, TEMPORAL_PORT');
      await expect(failure).rejects.toBeInstanceOf(PortInUseError);
      await expect(assertPortFree(port, 'Temporal frontend, TEMPORAL_PORT')).rejects.toThrow(
        `Port ${port} (Temporal frontend, TEMPORAL_PORT) is already in use: stop what uses it or set TEMPORAL_PORT`,
      );
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('passes for a free port', async () => {
    await expect(assertPortFree(await freePort(), 'anything, SOME_PORT')).resolves.toBeUndefined();
  });
});
