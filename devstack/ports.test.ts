import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ephemeralPortRange, freePort, pickableRange, pickPort, type PickOptions } from './ports';

const ROOT = path.resolve(__dirname, '..');

interface Picker {
  /** Resolves once the process has loaded ports.ts. */
  ready: Promise<void>;
  /** Picks its ports, all at once, and answers with them. */
  go(): Promise<number[]>;
  /** Lets it exit; until then it holds its ports, as a picker does for its life. */
  exit(): Promise<void>;
}

/** A process that loads ports.ts, says "ready", picks `count` ports at once when told, and prints them. */
function picker(count: number, options?: PickOptions): Picker {
  const script = `
    const { freePort, pickPort } = require(${JSON.stringify(path.join(__dirname, 'ports.ts'))});
    const options = ${JSON.stringify(options ?? null)};
    process.stdin.once('data', () =>
      Promise.all(Array.from({ length: ${count} }, () => (options ? pickPort(options) : freePort())))
        .then((ports) => process.stdout.write(JSON.stringify(ports) + '\\n'))
        .catch((error) => { console.error(error); process.exit(1); }));
    process.stdin.on('end', () => process.exit(0));
    process.stdout.write('ready\\n');
  `;
  const child = spawn(process.execPath, ['--require', require.resolve('tsx/cjs'), '-e', script], { cwd: ROOT });
  let stdout = '';
  let stderr = '';
  const waiting = new Set<() => void>();
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    waiting.forEach((check) => check());
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  /** The n-th line the picker prints; fails if it exits first. */
  const line = (n: number) =>
    new Promise<string>((resolve, reject) => {
      const check = () => {
        const lines = stdout.split('\n');
        if (lines.length > n + 1) {
          waiting.delete(check);
          resolve(lines[n]!);
        }
      };
      waiting.add(check);
      check();
      void exited.then((code) => reject(new Error(`picker exited ${code}: ${stderr}`)));
    });
  return {
    ready: line(0).then(() => undefined),
    async go() {
      child.stdin.write('go\n');
      return JSON.parse(await line(1)) as number[];
    },
    async exit() {
      child.stdin.end();
      await exited;
    },
  };
}

/** Two pickers, alive together, that start picking at the same moment (both loaded, then told to go). */
async function pickTogether(count: number, options?: PickOptions): Promise<[number[], number[]]> {
  const pickers = [picker(count, options), picker(count, options)];
  try {
    await Promise.all(pickers.map(({ ready }) => ready));
    const [a, b] = await Promise.all(pickers.map((p) => p.go()));
    return [a!, b!];
  } finally {
    await Promise.all(pickers.map((p) => p.exit()));
  }
}

/** The pid of a process that has exited, as a killed picker leaves in its locks. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((resolve) => child.on('exit', resolve));
  return child.pid!;
}

describe('ports', () => {
  let lockDir: string;
  beforeEach(() => {
    lockDir = mkdtempSync(path.join(os.tmpdir(), 'port-locks-'));
  });
  afterEach(() => rmSync(lockDir, { recursive: true, force: true }));

  it('reads the ephemeral range and picks from below it', () => {
    expect(ephemeralPortRange('32768\t60999\n')).toEqual({ low: 32768, high: 60999 });
    expect(pickableRange({ low: 32768, high: 60999 })).toEqual({ low: 20000, high: 32767 });
    expect(pickableRange({ low: 28000, high: 60999 })).toEqual({ low: 20000, high: 27999 });
    expect(pickableRange({ low: 49152, high: 65535 })).toEqual({ low: 20000, high: 32767 });
  });

  it('gives two processes picking at once disjoint ports, all below the ephemeral range', async () => {
    const [a, b] = await pickTogether(100);
    const ephemeral = ephemeralPortRange();
    const { low, high } = pickableRange(ephemeral);
    for (const port of [...a, ...b]) {
      expect(port).toBeGreaterThanOrEqual(low);
      expect(port).toBeLessThanOrEqual(high);
      expect(port).toBeLessThan(ephemeral.low);
    }
    expect(new Set(a).size).toBe(100);
    expect(new Set(b).size).toBe(100);
    expect(a.filter((port) => b.includes(port))).toEqual([]);
  }, 30_000);

  it('parts a small range between two processes picking from it at once', async () => {
    // 50 picks from 60 ports (a few may be in use by others): the two contend for the same locks throughout.
    const low = Math.min(await freePort(), pickableRange().high - 59);
    const [a, b] = await pickTogether(25, { range: { low, high: low + 59 }, lockDir });
    expect(new Set([...a, ...b]).size).toBe(50);
  }, 30_000);

  it('never hands the same port out twice in one process', async () => {
    const low = Math.min(await freePort(), pickableRange().high - 14);
    const ports = await Promise.all(
      Array.from({ length: 10 }, () => pickPort({ range: { low, high: low + 14 }, lockDir })),
    );
    expect(new Set(ports).size).toBe(10);
  });

  it('skips a port another live process holds, and reclaims one a dead process left', async () => {
    const port = await freePort();
    const range = { low: port, high: port };
    writeFileSync(path.join(lockDir, String(port)), `${process.ppid}\n`);
    await expect(pickPort({ range, lockDir })).rejects.toThrow(`No free port between ${port} and ${port}`);

    writeFileSync(path.join(lockDir, String(port)), `${await deadPid()}\n`);
    expect(await pickPort({ range, lockDir })).toBe(port);
  });

  it('skips a port something listens on', async () => {
    const port = await freePort();
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    try {
      await expect(pickPort({ range: { low: port, high: port }, lockDir })).rejects.toThrow('No free port');
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
