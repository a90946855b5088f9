// The embeddable bundles, built with Vite library mode right after the app (vite.config.ts's
// `embedBundles` plugin): <usher-call> as one ES module and one classic script, and the SDK as
// one ES module; then every text file of the output is precompressed (brotli and gzip) so the
// broker serves them without compressing per request.
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { build, type InlineConfig, type Plugin } from 'vite';

const here = (path: string): string => fileURLToPath(new URL(`../${path}`, import.meta.url));

/** Paths under the app's output where the broker serves the bundles; `v1` changes only with a
 *  breaking change of the element's attributes/events or the SDK's exports. */
export const EMBED_PATHS = {
  widget: 'widget/v1',
  sdk: 'sdk/v1',
  embed: 'embed/v1',
} as const;

export const WIDGET_FILES = { es: 'usher-call.js', iife: 'usher-call.iife.js' } as const;
export const SDK_FILE = 'usher.js';
export const EMBED_HELPER_FILE = 'usher-embed.js';

const LIBRARY_BUILD = {
  target: 'es2022',
  minify: true,
  copyPublicDir: false,
  emptyOutDir: true,
  reportCompressedSize: false,
  // Library mode keeps an ES bundle's whitespace and comments (which name the build machine's
  // paths); a bundle served to pages should not.
  rolldownOptions: { output: { minify: true, comments: false } },
} as const;

/** One format per build: the classic script has no `import.meta` (it finds its origin through
 *  document.currentScript instead). */
export function widgetConfig(outDir: string, format: 'es' | 'iife'): InlineConfig {
  return {
    configFile: false,
    logLevel: 'warn',
    publicDir: false,
    ...(format === 'iife' ? { define: { 'import.meta.url': 'undefined' } } : {}),
    build: {
      ...LIBRARY_BUILD,
      // The second build must not wipe the first one's file.
      emptyOutDir: format === 'es',
      outDir,
      lib: {
        entry: here('web/widget/usher-call.ts'),
        name: 'UsherCall',
        formats: [format],
        fileName: () => WIDGET_FILES[format],
      },
    },
  };
}

export function sdkConfig(outDir: string): InlineConfig {
  return {
    configFile: false,
    logLevel: 'warn',
    publicDir: false,
    build: {
      ...LIBRARY_BUILD,
      outDir,
      lib: { entry: here('web/sdk/index.ts'), formats: ['es'], fileName: () => SDK_FILE },
    },
  };
}

/** The iframe helper: a classic script (it sets `window.UsherEmbed`), so it loads with or without
 *  `type="module"`. */
export function embedHelperConfig(outDir: string): InlineConfig {
  return {
    configFile: false,
    logLevel: 'warn',
    publicDir: false,
    build: {
      ...LIBRARY_BUILD,
      outDir,
      lib: {
        entry: here('web/embed/usher-embed.ts'),
        name: 'UsherEmbedModule',
        formats: ['iife'],
        fileName: () => EMBED_HELPER_FILE,
      },
    },
  };
}

/** Builds the widget and the SDK into the app's output once the app is built, then precompresses. */
export function embedBundles(outRoot: string): Plugin {
  return {
    name: 'usher-embed-bundles',
    apply: 'build',
    async closeBundle() {
      await build(widgetConfig(join(outRoot, EMBED_PATHS.widget), 'es'));
      await build(widgetConfig(join(outRoot, EMBED_PATHS.widget), 'iife'));
      await build(sdkConfig(join(outRoot, EMBED_PATHS.sdk)));
      await build(embedHelperConfig(join(outRoot, EMBED_PATHS.embed)));
      precompress(outRoot);
    },
  };
}

const COMPRESSIBLE = /\.(?:js|mjs|css|html|svg|json|map|txt|webmanifest)$/;
/** Below this a compressed copy saves less than a packet. */
const MIN_BYTES = 1024;

/** Writes `<file>.br` and `<file>.gz` beside every compressible file under `dir`. */
export function precompress(dir: string): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      precompress(path);
      continue;
    }
    if (!COMPRESSIBLE.test(entry.name) || statSync(path).size < MIN_BYTES) continue;
    const body = readFileSync(path);
    writeFileSync(
      `${path}.br`,
      brotliCompressSync(body, {
        params: {
          [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
          [constants.BROTLI_PARAM_SIZE_HINT]: body.length,
        },
      }),
    );
    writeFileSync(`${path}.gz`, gzipSync(body, { level: 9 }));
  }
}
