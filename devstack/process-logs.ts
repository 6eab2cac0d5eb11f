/**
 * Where the launcher's children write: every line to `<logs>/<name>.log`, and to the console only
 * what a person at the terminal must see (errors), unless `LOG_FORMAT=json` asks for everything there.
 */
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import path from 'node:path';

export type LogFormat = 'pretty' | 'json';

export function logFormatFromEnv(env: Record<string, string | undefined> = process.env): LogFormat {
  const raw = (env.LOG_FORMAT ?? '').trim().toLowerCase();
  if (raw === '' || raw === 'pretty') return 'pretty';
  if (raw === 'json') return 'json';
  throw new Error(`LOG_FORMAT must be "pretty" or "json", got "${env.LOG_FORMAT}"`);
}

export interface ProcessLog {
  /** The log file of this process. */
  file: string;
  /** A `ProcessSpec.write` for the supervisor. */
  write(line: string, stream: 'stdout' | 'stderr'): void;
  /** The last lines written, for the console when the process dies. */
  tail(): string[];
  close(): Promise<void>;
}

const TAIL_LINES = 20;
const ERROR_LEVELS = new Set(['error', 'fatal', 'panic', 'dpanic', '50', '60']);

/**
 * A JSON line (pino's numeric levels, which the API and the workers write; zap's words for the Temporal server)
 * is an error when its level says so; a plain line is shown when the process is one whose plain
 * stderr means trouble (a Node crash prints its stack trace there).
 */
export function isConsoleWorthy(line: string, stream: 'stdout' | 'stderr', plainStderrIsError: boolean): boolean {
  const trimmed = line.trim();
  if (trimmed.startsWith('{')) {
    try {
      const level = (JSON.parse(trimmed) as { level?: unknown }).level;
      return ERROR_LEVELS.has(String(level).toLowerCase());
    } catch {
      // Not JSON after all: judged as a plain line.
    }
  }
  return stream === 'stderr' && plainStderrIsError && trimmed !== '';
}

export interface ProcessLogOptions {
  dir: string;
  name: string;
  format: LogFormat;
  /** True for our Node processes; false for servers that log routine lines as plain text on stderr. */
  plainStderrIsError: boolean;
  console?: (line: string) => void;
}

export function openProcessLog(options: ProcessLogOptions): ProcessLog {
  mkdirSync(options.dir, { recursive: true });
  const file = path.join(options.dir, `${options.name}.log`);
  const out: WriteStream = createWriteStream(file, { flags: 'a' });
  const toConsole = options.console ?? ((line: string) => process.stdout.write(`${line}\n`));
  const recent: string[] = [];
  return {
    file,
    write(prefixed, stream) {
      // The supervisor prefixes `[name] `; the file holds the process's own line.
      const line = prefixed.startsWith(`[${options.name}] `) ? prefixed.slice(options.name.length + 3) : prefixed;
      out.write(`${line}\n`);
      if (recent.push(line) > TAIL_LINES) recent.shift();
      if (options.format === 'json' || isConsoleWorthy(line, stream, options.plainStderrIsError)) toConsole(prefixed);
    },
    tail: () => [...recent],
    close: () => new Promise<void>((resolve) => out.end(resolve)),
  };
}
