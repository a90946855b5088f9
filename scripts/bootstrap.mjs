#!/usr/bin/env node
// Makes a fresh machine ready, with nothing but Node: installs node_modules when they
// are missing or older than the lockfile, builds the web app when it is stale, and
// (for tests) installs Debian packages such as chromium with apt-get when missing.
// Usage: node scripts/bootstrap.mjs [--web] [--apt pkg[:binary],...]
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);

function log(message) {
  console.log(`bootstrap: ${message}`);
}

function run(command, commandArgs, options = {}) {
  const result = spawnSync(command, commandArgs, { cwd: root, stdio: 'inherit', ...options });
  if (result.status !== 0) {
    console.error(
      `bootstrap: \`${command} ${commandArgs.join(' ')}\` failed (exit ${result.status ?? result.signal})`,
    );
    process.exit(1);
  }
}

function mtime(path) {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

function newestUnder(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestUnder(path) : mtime(path));
  }
  return newest;
}

function checkNode() {
  const [major, minor] = process.versions.node.split('.').map(Number);
  if (major < 20 || (major === 20 && minor < 19)) {
    console.error(`bootstrap: Node ${process.versions.node} is too old; Usher needs Node ≥ 20.19 (Vite 8).`);
    process.exit(1);
  }
  const npmMajor = Number(execFileSync('npm', ['--version'], { encoding: 'utf8' }).trim().split('.')[0]);
  if (npmMajor < 11) {
    console.error(
      `bootstrap: npm ${npmMajor} found; this lockfile needs npm ≥ 11 (Vite 8 does not install with npm 10). ` +
        'Upgrade with: npm install -g npm@11',
    );
    process.exit(1);
  }
}

function ensureNodeModules() {
  const marker = join(root, 'node_modules', '.package-lock.json');
  if (existsSync(marker) && mtime(marker) >= mtime(join(root, 'package-lock.json'))) return;
  checkNode();
  log('installing node_modules (npm ci)…');
  run('npm', ['ci', '--no-audit', '--no-fund']);
}

let aptUpdated = false;
function ensureApt(spec) {
  const [pkg, binary = `/usr/bin/${spec}`] = spec.split(':');
  if (existsSync(binary)) return;
  if (process.getuid?.() !== 0) {
    console.error(`bootstrap: ${binary} is missing; install it with: sudo apt-get install -y ${pkg}`);
    process.exit(1);
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  if (!aptUpdated) {
    log('apt-get update…');
    run('apt-get', ['update', '-qq'], { env });
    aptUpdated = true;
  }
  log(`installing Debian package ${pkg}…`);
  run('apt-get', ['install', '-y', '-qq', pkg], { env });
}

function ensureWebBuild() {
  const index = join(root, 'dist', 'web', 'index.html');
  const sources = Math.max(
    newestUnder(join(root, 'web')),
    newestUnder(join(root, 'shared')),
    mtime(join(root, 'vite.config.ts')),
  );
  if (existsSync(index) && mtime(index) >= sources) return;
  log('building the web app (vite build)…');
  run(process.execPath, [
    join(root, 'node_modules', 'vite', 'bin', 'vite.js'),
    'build',
    '--logLevel',
    'warn',
  ]);
}

ensureNodeModules();
const aptIndex = args.indexOf('--apt');
if (aptIndex >= 0) for (const spec of (args[aptIndex + 1] ?? '').split(',').filter(Boolean)) ensureApt(spec);
if (args.includes('--web')) ensureWebBuild();
