// The tree's import rules, read from the sources: product modules never reach test scaffolding
// (`testing/` folders, test files) or the bench, the product build leaves all of those out, and
// the bench reaches the product only through public modules or the seams docs/PERFORMANCE.md lists.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Repository-relative paths, with `/`, of every .ts/.tsx file under `dir`. */
function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (path: string): void => {
    for (const entry of readdirSync(path, { withFileTypes: true })) {
      if (entry.name === 'node_modules' || entry.name === 'dist' || entry.name.startsWith('.')) continue;
      const child = join(path, entry.name);
      if (entry.isDirectory()) walk(child);
      else if (/\.tsx?$/.test(entry.name)) out.push(relative(root, child).split(sep).join('/'));
    }
  };
  walk(join(root, dir));
  return out.sort();
}

/** Module specifiers of static imports and re-exports, side-effect imports and literal `import()`s. */
function importSpecifiers(source: string): string[] {
  const patterns = [
    /^\s*(?:import|export)\b[^;]*?\bfrom\s*['"]([^'"]+)['"]/gm,
    /^\s*import\s*['"]([^'"]+)['"]/gm,
    /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  return patterns.flatMap((pattern) => [...source.matchAll(pattern)].map((match) => match[1]!));
}

/** Relative imports of `file`, resolved to repository-relative paths. */
function localImports(file: string): string[] {
  return importSpecifiers(readFileSync(join(root, file), 'utf8'))
    .filter((specifier) => specifier.startsWith('.'))
    .map((specifier) =>
      relative(root, resolve(root, dirname(file), specifier))
        .split(sep)
        .join('/'),
    );
}

const isTestFile = (path: string): boolean => /\.test\.tsx?$/.test(path);
const inTestingFolder = (path: string): boolean => path.split('/').includes('testing');
const isTestOnly = (path: string): boolean =>
  isTestFile(path) ||
  inTestingFolder(path) ||
  ['bench/', 'test/', 'e2e/', 'scripts/'].some((top) => path.startsWith(top));

const PRODUCT_DIRS = ['shared', 'server', 'web'];
const productFiles = (): string[] =>
  PRODUCT_DIRS.flatMap(sourceFiles).filter((path) => !isTestFile(path) && !inTestingFolder(path));

/** The product modules the bench may use: each package's public entry. */
const PUBLIC_MODULES = [
  'shared/index.ts',
  'server/broker/index.ts',
  'server/media/index.ts',
  'web/sdk/index.ts',
  // The application backend's module (createJoinToken, verifyWebhook).
  'server/sdk/index.ts',
];

/** Internal modules the bench may use: the seams docs/PERFORMANCE.md lists, and why. */
const BENCH_SEAMS = [
  // `usher bench` is a command of the `usher` CLI: its entry contract, flag parser and config error.
  'server/cli.ts',
  'server/cli/options.ts',
  'server/common/config-error.ts',
  // Starting a broker in process the way `usher broker` does.
  'server/common/keys.ts',
  'server/common/logger.ts',
  // The scale scenario measures the assignment path in process, without sockets.
  'server/broker/assignment.ts',
  'server/broker/pin-store.ts',
  'server/broker/registry.ts',
  'server/broker/sessions.ts',
  'server/common/tickets.ts',
  'server/common/turn.ts',
  // The scale scenario's join-token check, and the webhook delivery measurement.
  'server/common/join-token.ts',
  'server/broker/webhooks.ts',
  'server/broker/webhook-once.ts',
  // The storm's simulated browsers are the SDK's real UsherSession (public) on its fake RTC
  // (no media), with the clock and WebSocket types of its seams.
  'web/sdk/testing/fake-rtc.ts',
  'web/sdk/clock.ts',
  'web/sdk/websocket.ts',
  // The storm's fleet: brokers sharing pins through Redis as `usher broker --redis-url` does, behind
  // the HAProxy front `usher stack --brokers N` runs.
  'server/broker/redis-pin-store.ts',
  'server/cli/haproxy-config.ts',
  // The same throwaway redis-server `usher stack --redis` runs.
  'server/cli/ephemeral-redis.ts',
  // Free ports for the fleet's processes, the same helper the tests use (never one port twice).
  'shared/testing/free-port.ts',
];

describe('import boundaries', () => {
  test('the scanner sees every kind of import', () => {
    const source = [
      "import { a } from './a.ts';",
      'import {\n  b,\n  type C,\n} from "../b.ts";',
      "import './side-effect.ts';",
      "export { d } from './d.ts';",
      "export * from './e.ts';",
      "const f = await import('./f.ts');",
      "const g = 'not an import from here';",
    ].join('\n');
    assert.deepEqual(importSpecifiers(source).sort(), [
      '../b.ts',
      './a.ts',
      './d.ts',
      './e.ts',
      './f.ts',
      './side-effect.ts',
    ]);
  });

  test('no product module imports a testing folder, a test file or the bench', () => {
    const files = productFiles();
    assert.ok(files.length > 50, `expected the product's modules, found ${files.length}`);
    assert.ok(files.includes('server/cli.ts') && files.includes('web/sdk/session.ts'));
    const violations = files.flatMap((file) =>
      localImports(file)
        .filter(isTestOnly)
        .map((target) => `${file} imports ${target}`),
    );
    assert.deepEqual(violations, []);
  });

  test('the product build (tsconfig.build.json) compiles no test, testing, bench or e2e file', () => {
    const tsc = join(root, 'node_modules', '.bin', 'tsc');
    const listed = execFileSync(tsc, ['-p', join(root, 'tsconfig.build.json'), '--listFilesOnly'], {
      cwd: root,
      encoding: 'utf8',
    })
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '' && !line.includes('/node_modules/'))
      .map((line) => relative(root, line).split(sep).join('/'));
    assert.ok(listed.includes('server/cli.ts'), 'the product build lists server/cli.ts');
    assert.deepEqual(listed.filter(isTestOnly), []);
  });

  test('the bench reaches the product only through public modules and the documented seams', () => {
    const performance = readFileSync(join(root, 'docs', 'PERFORMANCE.md'), 'utf8');
    const undocumented = BENCH_SEAMS.filter((seam) => !performance.includes(`\`${seam}\``));
    assert.deepEqual(undocumented, [], 'every seam is listed in docs/PERFORMANCE.md');
    const allowed = new Set([...PUBLIC_MODULES, ...BENCH_SEAMS]);
    const bench = sourceFiles('bench').filter((path) => !isTestFile(path));
    const violations = bench.flatMap((file) =>
      localImports(file)
        .filter((target) => PRODUCT_DIRS.some((dir) => target.startsWith(`${dir}/`)) && !allowed.has(target))
        .map((target) => `${file} imports ${target}: use a public module, or add a seam here and in docs`),
    );
    assert.deepEqual(violations, []);
  });

  test('helpers in testing folders are never test files (npm test does not look there)', () => {
    const misplaced = [...PRODUCT_DIRS, 'test', 'bench']
      .flatMap(sourceFiles)
      .filter((path) => inTestingFolder(path) && isTestFile(path));
    assert.deepEqual(misplaced, []);
  });
});
