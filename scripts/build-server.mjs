#!/usr/bin/env node
// `npm run build:server`: compiles the product (shared/, server/, web/sdk/ — the files of
// tsconfig.build.json less web/app, which Vite bundles) to runnable ESM JavaScript in
// dist/app/, laid out like the repository so that paths relative to a module
// (server/cli/paths.ts: bin/usher.mjs, dist/web) hold there too. Production runs
// dist/app/bin/usher.mjs with no TypeScript loader; the Dockerfile copies dist/app to /app.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// --out <dir>: somewhere else than dist/app (the build test compiles into a temporary folder).
const outIndex = process.argv.indexOf('--out');
const out = outIndex > 0 ? resolve(process.argv[outIndex + 1] ?? '') : join(root, 'dist', 'app');

rmSync(out, { recursive: true, force: true });
// tsc type-checks as it emits, so a build never ships code that fails `npm run typecheck`.
const tsc = spawnSync(
  process.execPath,
  [
    join(root, 'node_modules', 'typescript', 'bin', 'tsc'),
    '-p',
    join(root, 'tsconfig.dist.json'),
    '--outDir',
    out,
  ],
  { cwd: root, stdio: 'inherit' },
);
if (tsc.status !== 0) process.exit(tsc.status ?? 1);

mkdirSync(join(out, 'bin'), { recursive: true });
copyFileSync(join(root, 'bin', 'usher.mjs'), join(out, 'bin', 'usher.mjs'));
// <out>/dist/web → dist/web, where `npm run build:web` puts the app: the compiled broker
// finds it where the source broker does. The image copies dist/web there instead.
mkdirSync(join(out, 'dist'), { recursive: true });
symlinkSync(join(root, 'dist', 'web'), join(out, 'dist', 'web'), 'dir');
if (!existsSync(join(root, 'dist', 'web')))
  console.warn('build:server: dist/web is missing: run `npm run build:web` for the broker to serve the app');
console.log(`build:server: compiled to ${out}; run: node ${join(out, 'bin', 'usher.mjs')} broker --help`);
