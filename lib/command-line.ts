/**
 * The command lines of the project's scripts (`npm run bench`, `chaos`, `fuzz`), read one way:
 * Node's own `parseArgs` (node:util), strict, so a mistyped flag (`--quik`) or a flag without its
 * value stops the script with the reason and the usage instead of starting a full run; `--help`
 * prints the usage. Numbers are checked here too: `--seed x` is refused, not NaN.
 */
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';

/** What a script accepts: parseArgs's option config, each with the line `--help` shows for it. */
export type CommandOptions = Record<string, ParseArgsOptionsConfig[string] & { help: string }>;

type Values<T extends CommandOptions> = {
  [K in keyof T]?: T[K]['type'] extends 'boolean' ? boolean : string;
};

/** A command line that is refused: its message says why; the caller prints it with the usage. */
export class UsageError extends Error {}

/** `usage` (the synopsis and what the script does), then one line per option. */
export function helpText(usage: string, options: CommandOptions): string {
  const all: CommandOptions = { ...options, help: { type: 'boolean', help: 'print this help and exit' } };
  const lines = Object.entries(all).map(
    ([name, option]) => `  --${name}${option.type === 'string' ? ' <value>' : ''}`.padEnd(28) + option.help,
  );
  return `${usage.trim()}\n\nOptions:\n${lines.join('\n')}\n`;
}

/** Parses `argv`; throws UsageError on an unknown flag, a missing value or a positional argument. */
export function parseCommandLine<T extends CommandOptions>(
  argv: readonly string[],
  options: T,
): Values<T> & { help?: boolean } {
  const config = Object.fromEntries(
    Object.entries(options).map(([name, { help: _help, ...option }]) => [name, option]),
  ) as ParseArgsOptionsConfig;
  try {
    const { values } = parseArgs({
      args: [...argv],
      options: { ...config, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: false,
    });
    return values as Values<T> & { help?: boolean };
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

/**
 * For a script's main: what `read` makes of the parsed options (it may refuse a value with
 * UsageError), or (on `--help`) the usage on stdout and exit 0, or (on a refused command line) the
 * reason and the usage on stderr and exit 64 (EX_USAGE).
 */
export function commandLineOrExit<T extends CommandOptions, R>(
  usage: string,
  options: T,
  read: (values: Values<T>) => R,
  argv: readonly string[] = process.argv.slice(2),
): R {
  try {
    const values = parseCommandLine(argv, options);
    if (values.help) {
      process.stdout.write(helpText(usage, options));
      process.exit(0);
    }
    return read(values);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`${error.message}\n\n${helpText(usage, options)}`);
    process.exit(64);
  }
}

/** A whole number given for `flag` (undefined stays undefined); refuses anything else, `x` and `1.5` included. */
export function wholeNumber(flag: string, value: string | undefined, { min = 0 }: { min?: number } = {}) {
  if (value === undefined) return undefined;
  if (!/^-?\d+$/.test(value) || Number(value) < min || !Number.isSafeInteger(Number(value)))
    throw new UsageError(`--${flag} must be a whole number${min > 0 ? ` of at least ${min}` : ''}, not "${value}"`);
  return Number(value);
}
