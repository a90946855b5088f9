// The built web app at `/`, and the 404 handler: single-page-app fallback to index.html
// for browser navigations, the wire `error` shape (NOT_FOUND) for everything else.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { sendError } from './http-errors.ts';

/** API paths never fall back to the app, so a typo there is a clear 404. */
const API_PREFIXES = ['/v1/', '/admin/v1/', '/metrics', '/healthz', '/readyz'];

export async function registerStaticSite(
  app: FastifyInstance,
  staticDir: string | undefined,
): Promise<boolean> {
  const root = staticDir === undefined ? undefined : resolve(staticDir);
  const serving = root !== undefined && existsSync(resolve(root, 'index.html'));
  if (serving) await app.register(fastifyStatic, { root, prefix: '/', wildcard: true });

  app.setNotFoundHandler(async (request: FastifyRequest, reply: FastifyReply) => {
    if (serving && wantsAppPage(request))
      return reply.type('text/html; charset=utf-8').sendFile('index.html');
    return sendError(reply, 'NOT_FOUND', null);
  });
  return serving;
}

function wantsAppPage(request: FastifyRequest): boolean {
  if (request.method !== 'GET' && request.method !== 'HEAD') return false;
  const path = request.url;
  if (API_PREFIXES.some((prefix) => path.startsWith(prefix))) return false;
  return (request.headers.accept ?? '').includes('text/html');
}
