// The app's JavaScript budget: build it (vite, production) into a temporary folder and check
// the gzip size of all its JS. The number and why it is that number: docs/PERFORMANCE.md.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'vite';

/** gzip bytes of all JS the page loads. */
export const JS_GZIP_BUDGET_BYTES = 100 * 1024;

test(`the app's JS is at most ${JS_GZIP_BUDGET_BYTES / 1024} KiB gzipped`, async () => {
  const outDir = mkdtempSync(join(tmpdir(), 'usher-web-'));
  try {
    await build({
      configFile: fileURLToPath(new URL('../../vite.config.ts', import.meta.url)),
      logLevel: 'silent',
      build: { outDir, emptyOutDir: true },
    });
    const assets = join(outDir, 'assets');
    const js = readdirSync(assets).filter((name) => name.endsWith('.js'));
    assert.ok(js.length > 0, 'the build produced JS');
    const sizes = js.map((name) => gzipSync(readFileSync(join(assets, name)), { level: 9 }).length);
    const total = sizes.reduce((sum, n) => sum + n, 0);
    console.log(`app JS: ${js.length} file(s), ${total} bytes gzipped (budget ${JS_GZIP_BUDGET_BYTES})`);
    assert.ok(
      total <= JS_GZIP_BUDGET_BYTES,
      `${total} bytes gzipped is over the ${JS_GZIP_BUDGET_BYTES} budget`,
    );
    assert.ok(total > 40 * 1024, `${total} bytes: too small to be the whole app (React alone is more)`);
  } finally {
    rmSync(outDir, { recursive: true, force: true });
  }
});
