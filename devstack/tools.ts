/**
 * Finds the pinned Temporal CLI, stripe-mock, Mailpit, and (for the cluster tier) the Temporal server and
 * its SQL schema tool in a per-user cache, building them with `go install` on first use.
 */
import { spawn } from 'node:child_process';
import { constants as fsConstants, createWriteStream, existsSync, mkdirSync, statSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export type ToolName = 'temporal' | 'stripe-mock' | 'mailpit' | 'temporal-server' | 'temporal-sql-tool';

export interface ToolPin {
  module: string;
  version: string;
  /** The file `go install` writes, when it is not the tool's own name (the last element of the package path). */
  goBinary?: string;
}

/**
 * The pins docs/development.md "Machines" explains. A pin change lands in a new versioned folder, so it rebuilds.
 * The server and the schema tool are the same release as the server the CLI v1.5.1 embeds (1.29),
 * so their build reuses the module cache the CLI's build filled.
 */
export const TOOL_PINS: Record<ToolName, ToolPin> = {
  temporal: { module: 'github.com/temporalio/cli/cmd/temporal', version: 'v1.5.1' },
  'stripe-mock': { module: 'github.com/stripe/stripe-mock', version: 'v0.197.0' },
  // A real local mail server (SMTP, a web UI and an HTTP API to read what arrived); MailHog's module does not build.
  mailpit: { module: 'github.com/axllent/mailpit', version: 'v1.33.1' },
  'temporal-server': { module: 'go.temporal.io/server/cmd/server', version: 'v1.29.1', goBinary: 'server' },
  'temporal-sql-tool': { module: 'go.temporal.io/server/cmd/tools/sql', version: 'v1.29.1', goBinary: 'sql' },
};

type Env = Record<string, string | undefined>;

export interface EnsureToolOptions {
  env?: Env;
  /** Where Go is; injectable so tests can simulate a machine without Go. */
  findGo?: (env: Env) => string | undefined;
  log?: (message: string) => void;
  /** Stops a build in progress (the launcher passes one tied to Ctrl-C). */
  signal?: AbortSignal;
  /** How long to wait for another process's build before giving up. */
  lockTimeoutMs?: number;
  /** Where go's own output goes (appended); the console gets one progress line. Default .data/logs/tools.log. */
  buildLogFile?: string;
  /** Where the progress line is redrawn (a terminal); default stderr when it is one, else nowhere. */
  progress?: NodeJS.WritableStream;
}

/** The repository's build log for the tools: go's several hundred `go: downloading` lines land here, not on the console. */
export const DEFAULT_BUILD_LOG = path.resolve(__dirname, '..', '.data', 'logs', 'tools.log');

export class GoMissingError extends Error {
  constructor(tool: ToolName, binary: string) {
    super(
      `${tool} ${TOOL_PINS[tool].version} is not built yet (${binary} is missing) and Go was not found ` +
        `on PATH nor in /usr/local/go/bin. Install Go 1.24 or newer (https://go.dev/doc/install) and run again, ` +
        `or set STOREFRONT_TOOLS_DIR to a folder that holds ${tool}-${TOOL_PINS[tool].version}/${tool}.`,
    );
    this.name = 'GoMissingError';
  }
}

/** The root of the per-user tool cache; outside the repository so every clone shares one build. */
export function toolsRoot(env: Env = process.env): string {
  if (env.STOREFRONT_TOOLS_DIR) return path.resolve(env.STOREFRONT_TOOLS_DIR);
  const cache = env.XDG_CACHE_HOME || path.join(env.HOME || os.homedir(), '.cache');
  return path.join(cache, 'storefront-sagas', 'tools');
}

export function toolPath(name: ToolName, env: Env = process.env): string {
  return path.join(toolsRoot(env), `${name}-${TOOL_PINS[name].version}`, name);
}

/** Go on PATH, else the standard install location (which is often not on PATH for non-login shells). */
export function findGo(env: Env = process.env): string | undefined {
  const dirs = [...(env.PATH ?? '').split(path.delimiter).filter(Boolean), '/usr/local/go/bin'];
  for (const dir of dirs) {
    const candidate = path.join(dir, 'go');
    if (isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

function isExecutableFile(file: string): boolean {
  try {
    const stat = statSync(file);
    return stat.isFile() && (stat.mode & 0o111) !== 0;
  } catch {
    return false;
  }
}

/** The absolute path of the pinned tool, building it first if this machine has not yet. */
export async function ensureTool(name: ToolName, options: EnsureToolOptions = {}): Promise<string> {
  const env = options.env ?? process.env;
  const binary = toolPath(name, env);
  if (isExecutableFile(binary)) return binary;

  const go = (options.findGo ?? findGo)(env);
  if (!go) throw new GoMissingError(name, binary);

  const log = options.log ?? ((message: string) => process.stderr.write(`${message}\n`));
  const folder = path.dirname(binary);
  await fs.mkdir(folder, { recursive: true });
  const release = await acquireLock(
    path.join(folder, '.build.lock'),
    options.lockTimeoutMs ?? 30 * 60_000,
    log,
    options.signal,
  );
  try {
    // Another process may have finished the build while this one waited for the lock.
    if (isExecutableFile(binary)) return binary;
    await goInstall(name, go, folder, env, log, options);
    return binary;
  } finally {
    await release();
  }
}

async function goInstall(
  name: ToolName,
  go: string,
  folder: string,
  env: Env,
  log: (message: string) => void,
  options: EnsureToolOptions,
): Promise<void> {
  const { module, version, goBinary } = TOOL_PINS[name];
  const logFile = options.buildLogFile ?? DEFAULT_BUILD_LOG;
  const shownLog = path.relative(process.cwd(), logFile) || logFile;
  const progress = options.progress ?? (process.stderr.isTTY ? process.stderr : undefined);
  // Build into a private folder and rename, so a killed build never leaves a binary that looks complete.
  const staging = await fs.mkdtemp(path.join(folder, '.build-'));
  log(
    `Building ${name} ${version} with "go install ${module}@${version}" (first time only: this takes a few minutes; ` +
      `go's output goes to ${shownLog})...`,
  );
  const started = Date.now();
  mkdirSync(path.dirname(logFile), { recursive: true });
  const output = createWriteStream(logFile, { flags: 'a' });
  output.write(`\n== ${new Date().toISOString()} go install ${module}@${version}\n`);
  let downloads = 0;
  let tail: string[] = [];
  let partial = '';
  let drawn = 0;
  // One line, redrawn at most once a second: modules fetched so far and the time spent.
  const draw = () => {
    if (!progress || Date.now() - drawn < 1000) return;
    drawn = Date.now();
    progress.write(`\r${name} ${version}: ${downloads} modules downloaded, ${Math.round((drawn - started) / 1000)}s`);
  };
  const read = (chunk: Buffer) => {
    output.write(chunk);
    const lines = (partial + chunk.toString()).split('\n');
    partial = lines.pop()!;
    downloads += lines.filter((line) => line.startsWith('go: downloading')).length;
    tail = [...tail, ...lines].slice(-20);
    draw();
  };
  try {
    await new Promise<void>((resolve, reject) => {
      const child = spawn(go, ['install', `${module}@${version}`], {
        env: { ...env, GOBIN: staging, PATH: `${path.dirname(go)}${path.delimiter}${env.PATH ?? ''}` },
        stdio: ['ignore', 'pipe', 'pipe'],
        signal: options.signal,
      });
      child.stdout.on('data', read);
      child.stderr.on('data', read);
      child.on('error', reject);
      child.on('close', (code, sig) => {
        if (code === 0) resolve();
        else
          reject(
            new Error(
              `go install ${module}@${version} failed (${sig ?? `exit code ${code}`}); the end of its output ` +
                `(all of it in ${shownLog}):\n${[...tail, partial].filter(Boolean).join('\n')}`,
            ),
          );
      });
    });
    await fs.rename(path.join(staging, goBinary ?? name), path.join(folder, name));
    log(
      `Built ${name} ${version} in ${Math.round((Date.now() - started) / 1000)}s (${downloads} modules downloaded): ` +
        path.join(folder, name),
    );
  } finally {
    // Ends the progress line, so what follows starts on a line of its own.
    if (progress && drawn > 0) progress.write('\n');
    await new Promise((resolve) => output.end(resolve));
    await fs.rm(staging, { recursive: true, force: true });
  }
}

/** An exclusive lock file holding the owner's pid; a lock whose owner is gone is taken over. */
async function acquireLock(
  lockFile: string,
  timeoutMs: number,
  log: (message: string) => void,
  signal: AbortSignal | undefined,
): Promise<() => Promise<void>> {
  const deadline = Date.now() + timeoutMs;
  let told = false;
  for (;;) {
    signal?.throwIfAborted();
    try {
      const handle = await fs.open(lockFile, fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_WRONLY);
      await handle.writeFile(String(process.pid));
      await handle.close();
      return () => fs.rm(lockFile, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const owner = Number((await fs.readFile(lockFile, 'utf8').catch(() => '')).trim());
    if (!owner || !isAlive(owner)) {
      // Written but not yet filled in, or left by a dead process: only remove it if it is old enough.
      const age = Date.now() - (existsSync(lockFile) ? statSync(lockFile).mtimeMs : 0);
      if (owner || age > 5_000) await fs.rm(lockFile, { force: true });
    } else if (!told) {
      log(`Waiting for another process (pid ${owner}) that is building the same tool...`);
      told = true;
    }
    if (Date.now() > deadline) throw new Error(`Timed out waiting for the build lock ${lockFile}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
