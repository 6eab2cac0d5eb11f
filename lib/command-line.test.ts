import { helpText, parseCommandLine, UsageError, wholeNumber } from './command-line';

const OPTIONS = {
  quick: { type: 'boolean', help: 'small' },
  seed: { type: 'string', help: 'the seed' },
} as const;

describe('parseCommandLine', () => {
  it('reads the flags it knows, in both --name value and --name=value forms', () => {
    expect(parseCommandLine(['--quick', '--seed', '7'], OPTIONS)).toEqual({ quick: true, seed: '7' });
    expect(parseCommandLine(['--seed=8'], OPTIONS)).toEqual({ seed: '8' });
    expect(parseCommandLine(['--help'], OPTIONS)).toEqual({ help: true });
  });

  it.each([
    ['a mistyped flag', ['--quik'], /--quik/],
    ['a flag without its value', ['--seed'], /--seed/],
    ['a value given to a switch', ['--quick=yes'], /--quick/],
    ['a stray argument', ['quick'], /quick/],
  ])('refuses %s', (_case, argv, message) => {
    expect(() => parseCommandLine(argv, OPTIONS)).toThrow(UsageError);
    expect(() => parseCommandLine(argv, OPTIONS)).toThrow(message);
  });
});

describe('wholeNumber', () => {
  it('takes whole numbers and refuses the rest, instead of passing NaN on', () => {
    expect(wholeNumber('seed', '42')).toBe(42);
    expect(wholeNumber('seed', undefined)).toBeUndefined();
    for (const value of ['x', '1.5', '', '1e3']) expect(() => wholeNumber('seed', value)).toThrow(UsageError);
    expect(() => wholeNumber('runs', '0', { min: 1 })).toThrow('--runs must be a whole number of at least 1, not "0"');
  });
});

it('lists every option and --help in the help text', () => {
  const text = helpText('npm run x -- [options]: does x.', OPTIONS);
  expect(text).toMatch(/^npm run x/);
  for (const line of ['--quick', '--seed <value>', '--help']) expect(text).toContain(line);
});
