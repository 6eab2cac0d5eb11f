/** What a benchmark ran on: cores, memory, load and the versions of the moving parts. */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { TOOL_PINS } from '../../devstack/tools';

const run = promisify(execFile);

export interface Machine {
  cores: number;
  cpuModel: string;
  memoryGiB: number;
  /** 1, 5 and 15 minute load averages when the run began: a shared machine's noise, in one line. */
  loadAverage: number[];
  platform: string;
  node: string;
  temporalCli: string;
  temporalServer: string;
  postgres: string;
  sdk: string;
}

export async function describeMachine(options: { temporalCli: string; postgresUrl: string }): Promise<Machine> {
  const cpus = os.cpus();
  const [cli, postgres] = await Promise.all([
    temporalVersions(options.temporalCli),
    postgresVersion(options.postgresUrl),
  ]);
  return {
    cores: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    memoryGiB: Number((os.totalmem() / 1024 ** 3).toFixed(1)),
    loadAverage: os.loadavg().map((load) => Number(load.toFixed(2))),
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    temporalCli: cli.cli,
    temporalServer: cli.server,
    postgres,
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    sdk: `@temporalio/worker ${(require('@temporalio/worker/package.json') as { version: string }).version}`,
  };
}

/** `temporal --version` prints e.g. "temporal version 1.5.1 (Server 1.29.1, UI 2.42.1)". */
async function temporalVersions(cli: string): Promise<{ cli: string; server: string }> {
  try {
    const { stdout } = await run(cli, ['--version']);
    const line = stdout.trim();
    return {
      // Built with `go install`, the CLI calls itself 0.0.0-DEV: the pin says which release it is.
      cli: /version\s+0\.0\.0-DEV/.test(line)
        ? TOOL_PINS.temporal.version
        : (/version\s+(\S+)/.exec(line)?.[1] ?? line),
      server: /Server\s+([^,)]+)/.exec(line)?.[1] ?? 'unknown',
    };
  } catch {
    return { cli: 'unknown', server: 'unknown' };
  }
}

async function postgresVersion(url: string): Promise<string> {
  const client = new Client({ connectionString: url });
  try {
    await client.connect();
    const { rows } = await client.query<{ server_version: string }>('SHOW server_version');
    return rows[0]?.server_version ?? 'unknown';
  } catch {
    return 'unknown';
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** A process's resident memory in KiB (from /proc), NaN when it cannot be read. */
export function residentKiB(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : Number.NaN;
  } catch {
    return Number.NaN;
  }
}
