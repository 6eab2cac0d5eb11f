import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { GoMissingError, TOOL_PINS, ensureTool, findGo, toolPath, toolsRoot } from './tools';

describe('tool cache', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'storefront-tools-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function fakeTool(env: Record<string, string>, name: 'temporal' | 'stripe-mock'): string {
    const file = toolPath(name, env);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, '#!/bin/sh\necho fake\n');
    chmodSync(file, 0o755);
    return file;
  }

  it('keeps each pinned version in its own folder of the per-user cache', () => {
    expect(toolPath('temporal', { XDG_CACHE_HOME: '/c' })).toBe(
      `/c/storefront-sagas/tools/temporal-${TOOL_PINS.temporal.version}/temporal`,
    );
    expect(toolPath('stripe-mock', { HOME: '/home/u' })).toBe(
      `/home/u/.cache/storefront-sagas/tools/stripe-mock-${TOOL_PINS['stripe-mock'].version}/stripe-mock`,
    );
    expect(toolsRoot({ STOREFRONT_TOOLS_DIR: '/opt/tools', XDG_CACHE_HOME: '/c' })).toBe('/opt/tools');
  });

  it('finds a cached tool without looking for Go', async () => {
    const env = { STOREFRONT_TOOLS_DIR: dir, PATH: '' };
    const cached = fakeTool(env, 'stripe-mock');
    const findGo = jest.fn(() => undefined);

    await expect(ensureTool('stripe-mock', { env, findGo })).resolves.toBe(cached);
    expect(findGo).not.toHaveBeenCalled();
  });

  it('explains how to get Go when the tool is missing and Go is not installed', async () => {
    const env = { STOREFRONT_TOOLS_DIR: dir, PATH: '' };

    const failure = ensureTool('temporal', { env, findGo: () => undefined });

    await expect(failure).rejects.toBeInstanceOf(GoMissingError);
    await expect(ensureTool('temporal', { env, findGo: () => undefined })).rejects.toThrow(
      /Install Go 1\.24 or newer \(https:\/\/go\.dev\/doc\/install\).*or set STOREFRONT_TOOLS_DIR/,
    );
  });

  it('looks for Go on PATH', () => {
    const bin = path.join(dir, 'bin');
    mkdirSync(bin);
    writeFileSync(path.join(bin, 'go'), '#!/bin/sh\n');
    chmodSync(path.join(bin, 'go'), 0o755);
    expect(findGo({ PATH: bin })).toBe(path.join(bin, 'go'));
  });

  it('builds with go install into the versioned folder, once, even when asked twice at the same time', async () => {
    // A stand-in for `go` that records its arguments and "installs" a binary into GOBIN.
    const fakeGo = path.join(dir, 'go');
    const calls = path.join(dir, 'calls.log');
    writeFileSync(
      fakeGo,
      `#!/bin/sh\necho "$@" >> ${calls}\nsleep 0.3\nprintf '#!/bin/sh\\n' > "$GOBIN/stripe-mock"\nchmod +x "$GOBIN/stripe-mock"\n`,
    );
    chmodSync(fakeGo, 0o755);
    const env = { STOREFRONT_TOOLS_DIR: path.join(dir, 'cache'), PATH: '/usr/bin:/bin' };
    const options = { env, findGo: () => fakeGo, log: () => undefined };

    const [first, second] = await Promise.all([ensureTool('stripe-mock', options), ensureTool('stripe-mock', options)]);

    expect(first).toBe(toolPath('stripe-mock', env));
    expect(second).toBe(first);
    expect(readFileSync(calls, 'utf8').trim().split('\n')).toEqual([
      `install github.com/stripe/stripe-mock@${TOOL_PINS['stripe-mock'].version}`,
    ]);
  });
});

describe('a tool build', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'storefront-tools-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  /** A stand-in for `go` that prints what a first build prints (hundreds of downloads), then fails or installs. */
  function noisyGo(fails: boolean): string {
    const fakeGo = path.join(dir, 'go');
    const install = fails
      ? `echo "compile: something broke" >&2\nexit 2\n`
      : `printf '#!/bin/sh\\n' > "$GOBIN/stripe-mock"\nchmod +x "$GOBIN/stripe-mock"\n`;
    writeFileSync(
      fakeGo,
      `#!/bin/sh\ni=0\nwhile [ $i -lt 300 ]; do echo "go: downloading example.com/m$i v1.0.0" >&2; i=$((i+1)); done\n${install}`,
    );
    chmodSync(fakeGo, 0o755);
    return fakeGo;
  }

  function build(fails: boolean) {
    const lines: string[] = [];
    const buildLogFile = path.join(dir, 'logs', 'tools.log');
    const env = { STOREFRONT_TOOLS_DIR: path.join(dir, 'cache'), PATH: '/usr/bin:/bin' };
    const built = ensureTool('stripe-mock', {
      env,
      findGo: () => noisyGo(fails),
      log: (line) => lines.push(line),
      buildLogFile,
    });
    return { built, lines, buildLogFile };
  }

  it("says it in two lines and keeps go's output in the build log", async () => {
    const { built, lines, buildLogFile } = build(false);
    await built;
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^Building stripe-mock .*go's output goes to .*tools\.log/);
    expect(lines[1]).toMatch(/^Built stripe-mock .* \(300 modules downloaded\)/);
    const logged = readFileSync(buildLogFile, 'utf8');
    expect(logged.match(/^go: downloading/gm)).toHaveLength(300);
  });

  it('shows the end of go output when the build fails', async () => {
    const { built, buildLogFile } = build(true);
    await expect(built).rejects.toThrow(/exit code 2.*\n(.*\n)*compile: something broke/);
    expect(readFileSync(buildLogFile, 'utf8')).toContain('compile: something broke');
  });
});
