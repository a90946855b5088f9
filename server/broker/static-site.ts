// The built web app at `/` and the embeddable bundles under it (/widget/v1/, /sdk/v1/,
// /embed/v1/), served precompressed (brotli/gzip written at build time) with a cache policy per
// kind of file, and the 404 handler: single-page-app fallback to index.html for browser
// navigations only (`/embed?room=…` included), the wire `error` shape (NOT_FOUND) for everything
// else — a mistyped script URL never gets HTML.
import { existsSync } from 'node:fs';
import { resolve, sep } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { sendError } from './http-errors.ts';

/** API paths never fall back to the app, so a typo there is a clear 404. */
const API_PREFIXES = ['/v1/', '/admin/v1/', '/metrics', '/healthz', '/readyz'];
/** The embeddable bundles' paths (scripts/embed-build.ts) and the names people guess for them. */
const EMBED_PREFIXES = ['/widget/', '/sdk/', '/embed/v1/', '/widget.js', '/sdk.js'];
/** A request for a file of these kinds wants that file, never the app's page. */
const FILE_EXTENSION = /\.(?:m?js|cjs|css|map|json|wasm|ts)$/i;

export const CACHE_CONTROL = {
  /** Vite's content-hashed output: a new build gets new names. */
  hashed: 'public, max-age=31536000, immutable',
  /** Stable URLs whose content changes with a deploy: cached, but revalidated (ETag) after an hour. */
  embed: 'public, max-age=3600, must-revalidate',
  /** The page that names the hashed files: always revalidated. */
  page: 'no-cache',
} as const;

/** Vite names hashed files `<name>-<8+ chars of base64url hash>.<ext>` under assets/. */
const HASHED_FILE = /[\\/]assets[\\/][^\\/]+-[A-Za-z0-9_-]{8,}\.[a-z0-9]+(?:\.(?:br|gz))?$/;

export async function registerStaticSite(
  app: FastifyInstance,
  staticDir: string | undefined,
): Promise<boolean> {
  const root = staticDir === undefined ? undefined : resolve(staticDir);
  const serving = root !== undefined && existsSync(resolve(root, 'index.html'));
  if (serving) {
    const embedDirs = ['widget', 'sdk', 'embed'].map((dir) => `${resolve(root, dir)}${sep}`);
    await app.register(fastifyStatic, {
      root,
      prefix: '/',
      wildcard: true,
      preCompressed: true,
      cacheControl: false,
      setHeaders: (reply, path) => {
        if (HASHED_FILE.test(path)) {
          reply.header('cache-control', CACHE_CONTROL.hashed);
        } else if (embedDirs.some((dir) => path.startsWith(dir))) {
          reply.header('cache-control', CACHE_CONTROL.embed);
          // Loaded by other sites' pages: a module script needs CORS, and helmet's default
          // Cross-Origin-Resource-Policy (same-origin) would block even a classic script.
          reply.header('access-control-allow-origin', '*');
          reply.header('cross-origin-resource-policy', 'cross-origin');
        } else {
          reply.header('cache-control', CACHE_CONTROL.page);
        }
      },
    });
  }

  app.setNotFoundHandler(async (request: FastifyRequest, reply: FastifyReply) => {
    if (serving && wantsAppPage(request))
      return reply.type('text/html; charset=utf-8').sendFile('index.html');
    return sendError(reply, 'NOT_FOUND', null);
  });
  return serving;
}

function wantsAppPage(request: FastifyRequest): boolean {
  if (request.method !== 'GET' && request.method !== 'HEAD') return false;
  const query = request.url.indexOf('?');
  const path = query === -1 ? request.url : request.url.slice(0, query);
  if (API_PREFIXES.some((prefix) => path.startsWith(prefix))) return false;
  if (EMBED_PREFIXES.some((prefix) => path.startsWith(prefix))) return false;
  if (FILE_EXTENSION.test(path)) return false;
  return (request.headers.accept ?? '').includes('text/html');
}
