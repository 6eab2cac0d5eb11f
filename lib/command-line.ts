/**
 * The command lines of the project's scripts (every `npm run` entry but `ops`, and the programs they start), read one way:
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

/** What a script takes besides its options: none unless it says so (`npm run histories:record -- paid`). */
export interface CommandLineExtras {
  /** Bare arguments are taken (and handed to `read`); without it one is refused as a stray argument. */
  positionals?: boolean;
}

/** `usage` (the synopsis and what the script does), then one line per option. */
export function helpText(usage: string, options: CommandOptions): string {
  const all: CommandOptions = { ...options, help: { type: 'boolean', help: 'print this help and exit' } };
  const lines = Object.entries(all).map(
    ([name, option]) => `  --${name}${option.type === 'string' ? ' <value>' : ''}`.padEnd(28) + option.help,
  );
  return `${usage.trim()}\n\nOptions:\n${lines.join('\n')}\n`;
}

/** Parses `argv`; throws UsageError on an unknown flag, a missing value or (unless taken) a positional argument. */
export function parseCommandLine<T extends CommandOptions>(
  argv: readonly string[],
  options: T,
  extras: CommandLineExtras = {},
): Values<T> & { help?: boolean } {
  return parseWithPositionals(argv, options, extras).values;
}

function parseWithPositionals<T extends CommandOptions>(
  argv: readonly string[],
  options: T,
  { positionals = false }: CommandLineExtras,
): { values: Values<T> & { help?: boolean }; positionals: string[] } {
  const config = Object.fromEntries(
    Object.entries(options).map(([name, { help: _help, ...option }]) => [name, option]),
  ) as ParseArgsOptionsConfig;
  try {
    const parsed = parseArgs({
      args: [...argv],
      options: { ...config, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: positionals,
    });
    return { values: parsed.values as Values<T> & { help?: boolean }, positionals: parsed.positionals };
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
  read: (values: Values<T>, positionals: string[]) => R,
  argv: readonly string[] = process.argv.slice(2),
  extras: CommandLineExtras = {},
): R {
  try {
    const { values, positionals } = parseWithPositionals(argv, options, extras);
    if (values.help) {
      process.stdout.write(helpText(usage, options));
      process.exit(0);
    }
    return read(values, positionals);
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
