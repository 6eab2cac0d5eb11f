import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

// Plain JavaScript on purpose (it runs before anything is installed); required, not imported.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const start = require('./start.js') as {
  installCommand(root: string): string[];
  installReason(root: string): string | undefined;
  STAMP: string;
};

describe('npm start: when to install packages', () => {
  let root: string;
  const lock = (packages: Record<string, object>): string =>
    JSON.stringify({ name: 'x', lockfileVersion: 3, packages: { '': { name: 'x' }, ...packages } });

  beforeEach(() => {
    root = mkdtempSync(path.join(os.tmpdir(), 'storefront-start-'));
    writeFileSync(path.join(root, 'package.json'), '{"name":"x"}');
    writeFileSync(
      path.join(root, 'package-lock.json'),
      lock({
        'node_modules/a': { version: '1.0.0' },
        'node_modules/@x/other-cpu': { version: '1.0.0', optional: true },
      }),
    );
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('installs when node_modules is missing', () => {
    expect(start.installReason(root)).toBe('node_modules is missing');
  });

  it('trusts a tree npm installed from the same lockfile, and stamps it so the next check is one read', () => {
    mkdirSync(path.join(root, 'node_modules'));
    writeFileSync(
      path.join(root, 'node_modules', '.package-lock.json'),
      lock({ 'node_modules/a': { version: '1.0.0' } }),
    );

    expect(start.installReason(root)).toBeUndefined();
    rmSync(path.join(root, 'node_modules', '.package-lock.json'));
    expect(start.installReason(root)).toBeUndefined(); // the stamp alone now answers
  });

  it('installs when the lockfile asks for another version than the one installed', () => {
    mkdirSync(path.join(root, 'node_modules'));
    writeFileSync(
      path.join(root, 'node_modules', '.package-lock.json'),
      lock({ 'node_modules/a': { version: '0.9.0' } }),
    );

    expect(start.installReason(root)).toBe('package-lock.json changed since the last install');
  });

  it('installs when the lockfile changed after the stamp was written', () => {
    mkdirSync(path.join(root, 'node_modules'));
    writeFileSync(path.join(root, start.STAMP), 'an-older-hash\n');

    expect(start.installReason(root)).toBe('package-lock.json changed since the last install');
  });

  it('installs exactly what the lockfile locks (npm ci), and only without one lets npm resolve (npm install)', () => {
    expect(start.installCommand(root)[0]).toBe('ci');
    rmSync(path.join(root, 'package-lock.json'));
    expect(start.installCommand(root)[0]).toBe('install');
  });
});
