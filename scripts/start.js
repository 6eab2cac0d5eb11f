#!/usr/bin/env node
/**
 * `npm start`: installs the npm packages when they are missing or stale, then runs the stack
 * (devstack/local-stack.ts). Plain JavaScript with no dependencies, because it runs before anything is installed.
 */
'use strict';

const { spawn, spawnSync } = require('node:child_process');
const { createHash } = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
/** Written after a successful install: the hash of the lockfile it installed. */
const STAMP = path.join('node_modules', '.storefront-install-stamp');

function lockfileHash(root) {
  const hash = createHash('sha256');
  for (const file of ['package.json', 'package-lock.json']) {
    const full = path.join(root, file);
    hash.update(file).update('\0');
    if (fs.existsSync(full)) hash.update(fs.readFileSync(full));
  }
  return hash.digest('hex');
}

/**
 * npm's own record of what is in node_modules (node_modules/.package-lock.json) agrees with the
 * lockfile: every locked package that should be on this platform is installed at its locked version.
 * This spares a reinstall of a tree someone installed by hand, which has no stamp yet.
 */
function installedTreeMatches(root) {
  let wanted;
  let installed;
  try {
    wanted = JSON.parse(fs.readFileSync(path.join(root, 'package-lock.json'), 'utf8')).packages;
    installed = JSON.parse(fs.readFileSync(path.join(root, 'node_modules', '.package-lock.json'), 'utf8')).packages;
  } catch {
    return false;
  }
  if (!wanted || !installed) return false;
  for (const [location, entry] of Object.entries(wanted)) {
    if (location === '' || !location.startsWith('node_modules/')) continue;
    const have = installed[location];
    // Optional packages for other platforms (e.g. other CPUs' native bindings) are rightly absent.
    if (!have) {
      if (entry.optional) continue;
      return false;
    }
    if (have.version !== entry.version) return false;
  }
  return true;
}

/** Why the packages need installing, or undefined when they are up to date. */
function installReason(root) {
  if (!fs.existsSync(path.join(root, 'node_modules'))) return 'node_modules is missing';
  const stampFile = path.join(root, STAMP);
  const current = lockfileHash(root);
  if (fs.existsSync(stampFile) && fs.readFileSync(stampFile, 'utf8').trim() === current) return undefined;
  if (installedTreeMatches(root)) {
    writeStamp(root, current);
    return undefined;
  }
  return 'package-lock.json changed since the last install';
}

function writeStamp(root, hash) {
  try {
    fs.writeFileSync(path.join(root, STAMP), `${hash}\n`);
  } catch {
    // A read-only node_modules only costs the fast path next time.
  }
}

function runNpm(root, args) {
  console.log(`[start] running npm ${args.join(' ')}...`);
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
  const result = spawnSync(npm, args, {
    cwd: root,
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, npm_config_yes: 'true' },
  });
  if (result.error) throw result.error;
  return result.status ?? 1;
}

/**
 * With a lockfile, exactly what it locks (`npm ci`), as CI and the image install: a registry that does
 * not serve a locked package stops the start with npm's reason instead of resolving something else.
 */
function installCommand(root) {
  const command = fs.existsSync(path.join(root, 'package-lock.json')) ? 'ci' : 'install';
  return [command, '--no-audit', '--no-fund'];
}

function install(root, reason) {
  console.log(`[start] ${reason}`);
  const args = installCommand(root);
  const status = runNpm(root, args);
  if (status !== 0) {
    console.error(`[start] npm ${args[0]} failed (exit code ${status}); fix the error above and run npm start again.`);
    process.exit(status);
  }
  writeStamp(root, lockfileHash(root));
  if (Number(process.versions.node.split('.')[0]) < 22) {
    // Packages in the tree (cookie 2, content-disposition 3, ...) declare Node 22: npm's EBADENGINE says so.
    console.log(
      `[start] Node ${process.versions.node} is older than the supported Node 22 (.nvmrc): install Node 22 or 24.`,
    );
  }
}

function runStack(root, args) {
  // node --import tsx instead of npx tsx: no npx start-up, and the stack is our direct child, so it gets our signals.
  // The stack reads its command line (`npm start -- --help`) with lib/command-line.ts, which needs tsx: installed by now.
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'devstack', 'local-stack.ts'), ...args], {
    cwd: root,
    stdio: 'inherit',
  });
  // A terminal's Ctrl-C reaches the stack directly (same process group); a signal sent to this process
  // alone (kill, a supervisor) is passed on. The stack treats a repeat within a moment as the same one.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
    process.on(signal, () => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    });
  }
  child.on('exit', (code, signal) =>
    process.exit(code ?? (signal ? 128 + (require('node:os').constants.signals[signal] ?? 0) : 1)),
  );
}

if (require.main === module) {
  const reason = installReason(ROOT);
  if (reason) install(ROOT, reason);
  runStack(ROOT, process.argv.slice(2));
}

module.exports = { installCommand, installReason, installedTreeMatches, lockfileHash, STAMP };
