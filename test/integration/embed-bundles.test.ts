// The embeddable bundles as the broker serves them, built the way `vite build` builds them:
// one file each, no React, no build-machine paths, and within their size budgets (gzip).
//
// Budgets: what a page pays before the element can render, checked so growth is a decision.
// The widget carries lit and the whole SDK; each budget is today's size plus ≈ 15 % headroom
// (docs/EMBED.md lists the measured sizes).
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { build } from 'vite';
import {
  EMBED_HELPER_FILE,
  embedHelperConfig,
  SDK_FILE,
  sdkConfig,
  WIDGET_FILES,
  widgetConfig,
} from '../../scripts/embed-build.ts';

export const GZIP_BUDGET_BYTES = {
  widget: 24 * 1024,
  sdk: 12 * 1024,
  /** The iframe helper only makes a frame and wraps postMessage. */
  embedHelper: 1024,
} as const;

describe('embed bundles', () => {
  test('widget (ES module and classic script), SDK and iframe helper: one file each, self-contained, within budget', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'usher-embed-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    await build({ ...widgetConfig(join(dir, 'widget'), 'es'), logLevel: 'silent' });
    await build({ ...widgetConfig(join(dir, 'widget'), 'iife'), logLevel: 'silent' });
    await build({ ...sdkConfig(join(dir, 'sdk')), logLevel: 'silent' });
    await build({ ...embedHelperConfig(join(dir, 'embed')), logLevel: 'silent' });
    assert.deepEqual(readdirSync(join(dir, 'widget')).sort(), [WIDGET_FILES.iife, WIDGET_FILES.es].sort());
    assert.deepEqual(readdirSync(join(dir, 'sdk')), [SDK_FILE]);

    const sizes: Record<string, number> = {};
    const check = (path: string, budget: number): string => {
      const code = readFileSync(path, 'utf8');
      const gzip = gzipSync(code, { level: 9 }).length;
      sizes[path.slice(dir.length + 1)] = gzip;
      assert.ok(gzip <= budget, `${path}: ${gzip} B gzip, over its budget of ${budget} B`);
      assert.doesNotMatch(code, /react\.(element|transitional)/, 'no React inside');
      assert.doesNotMatch(code, /node_modules|\/work\//, 'no build-machine paths');
      return code;
    };
    const es = check(join(dir, 'widget', WIDGET_FILES.es), GZIP_BUDGET_BYTES.widget);
    const iife = check(join(dir, 'widget', WIDGET_FILES.iife), GZIP_BUDGET_BYTES.widget);
    const sdk = check(join(dir, 'sdk', SDK_FILE), GZIP_BUDGET_BYTES.sdk);
    assert.match(es, /usher-call/);
    // A classic script: no module syntax, and nothing imported at run time.
    assert.doesNotMatch(iife, /^\s*(import|export)\s/m);
    assert.doesNotMatch(iife, /import\.meta/);
    assert.doesNotMatch(es, /^import\s/m, 'the ES module imports nothing (lit is inside)');
    assert.match(sdk, /export\s*\{/);
    const helper = check(join(dir, 'embed', EMBED_HELPER_FILE), GZIP_BUDGET_BYTES.embedHelper);
    assert.deepEqual(readdirSync(join(dir, 'embed')), [EMBED_HELPER_FILE]);
    assert.doesNotMatch(helper, /^\s*(import|export)\s/m, 'a classic script');
    assert.match(helper, /camera; microphone; display-capture/);
    t.diagnostic(`gzip sizes: ${JSON.stringify(sizes)}`);
  });
});
