/**
 * Headless Chromium for browser tests: Debian's `chromium` package driven by playwright-core
 * (Playwright's own browser download cannot run here). On a machine without it, it is
 * installed with apt-get (non-interactive, as root); when that is impossible the error says
 * what to run.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** The flags docs/development.md "Machines" names: no sandbox (root in a container), no GPU, nothing that phones home. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Makes sure Chromium is installed; installs Debian's package when it is missing. */
export function ensureChromium(log: (line: string) => void = () => undefined): string {
  if (existsSync(CHROMIUM_PATH)) return CHROMIUM_PATH;
  if (process.getuid?.() !== 0) {
    throw new Error(
      `Chromium is not installed at ${CHROMIUM_PATH}. Install it with: sudo apt-get install -y chromium (or set CHROMIUM_PATH)`,
    );
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const apt = (args: string[]) =>
    execFileSync('apt-get', args, { env, stdio: ['ignore', 'pipe', 'pipe'], timeout: 15 * 60_000 });
  const install = ['-o', 'DPkg::Lock::Timeout=300', 'install', '-y', 'chromium'];
  log("Chromium is missing: installing Debian's chromium package with apt-get");
  try {
    try {
      apt(install);
    } catch {
      // A fresh machine may have no package lists yet.
      apt(['-o', 'DPkg::Lock::Timeout=300', 'update']);
      apt(install);
    }
  } catch (error) {
    const stderr =
      (error as { stderr?: Buffer }).stderr?.toString().trim().split('\n').slice(-5).join('\n') ?? String(error);
    throw new Error(
      `Could not install Chromium with apt-get (needed by the browser tests): ${stderr}\nInstall it by hand: apt-get install -y chromium`,
    );
  }
  if (!existsSync(CHROMIUM_PATH)) throw new Error(`apt-get installed chromium but ${CHROMIUM_PATH} does not exist`);
  return CHROMIUM_PATH;
}

export interface ChromiumProfile {
  /** A browser on this profile; closing it and launching again is "closing and reopening the browser". */
  launch(): Promise<BrowserContext>;
  /** Removes the profile directory. */
  dispose(): void;
}

/** A fresh --user-data-dir that outlives one browser, so a relaunch keeps localStorage. */
export function chromiumProfile(): ChromiumProfile {
  const executablePath = ensureChromium();
  const userDataDir = mkdtempSync(path.join(os.tmpdir(), 'storefront-chromium-'));
  return {
    launch: () =>
      chromium.launchPersistentContext(userDataDir, {
        executablePath,
        headless: true,
        args: CHROMIUM_ARGS,
        viewport: { width: 1360, height: 900 },
        deviceScaleFactor: 1,
      }),
    dispose: () => rmSync(userDataDir, { recursive: true, force: true }),
  };
}
