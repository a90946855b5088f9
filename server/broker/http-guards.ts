// The broker's HTTP guards, configured for Usher: CORS on the session route (one hook), the
// per-address budget on it (one hook over the budget the WebSocket route also draws on) and
// security headers on the pages (@fastify/helmet).
import fastifyHelmet from '@fastify/helmet';
import type { FastifyInstance, onRequestHookHandler } from 'fastify';
import { clientAddress } from './client-address.ts';
import { sendError } from './http-errors.ts';
import type { IpBudget } from './ip-budget.ts';
import type { BrokerMetrics } from './metrics.ts';
import type { OriginPolicy } from './origin.ts';

/** The one cross-origin HTTP route; the WebSockets check Origin themselves (CORS does not apply). */
const CORS_PATH = '/v1/sessions';
const EXPOSED_HEADERS = 'retry-after, x-ratelimit-limit, x-ratelimit-remaining, x-ratelimit-reset';
/** What a preflight for `POST /v1/sessions` is told (cached by the browser for 10 minutes). */
const PREFLIGHT_HEADERS = {
  'access-control-allow-methods': 'POST',
  'access-control-allow-headers': 'content-type',
  'access-control-max-age': '600',
} as const;

/**
 * CORS for `POST /v1/sessions`: an allowed origin gets its origin reflected (or `*` when any
 * origin is allowed), the rate-limit headers exposed and a 204 to its preflight; everyone
 * else gets no CORS headers (the route's own origin check answers FORBIDDEN_ORIGIN, an
 * unanswered preflight NOT_FOUND). Register in the scope of the session routes: a scope hook
 * runs before the route's budget hook, so a browser can read the 429 too.
 *
 * One hook rather than @fastify/cors: the plugin's per-request options delegator (needed for
 * the same-host check and the single path) was a sizeable share of the request's CPU
 * (docs/PERFORMANCE.md) for a policy of one path, one method and one header.
 */
export function registerCors(
  scope: FastifyInstance,
  options: { originAllowed: OriginPolicy; anyOrigin: boolean },
): void {
  const { originAllowed, anyOrigin } = options;
  scope.addHook('onRequest', (request, reply, done) => {
    // The route the router already matched (this scope also holds `GET /v1/session`).
    if (request.routeOptions.url !== CORS_PATH) return done();
    // The answer depends on Origin (reflected or not), so caches must key on it.
    if (!anyOrigin) reply.header('vary', 'Origin');
    const origin = request.headers.origin;
    if (origin === undefined || !originAllowed(origin, request.headers.host)) return done();
    reply.header('access-control-allow-origin', anyOrigin ? '*' : origin);
    reply.header('access-control-expose-headers', EXPOSED_HEADERS);
    if (request.method !== 'OPTIONS') return done();
    reply.code(204).headers(PREFLIGHT_HEADERS).send();
  });
  // Gives preflights a route in this scope (so the hook above sees them); reached only by
  // those it did not answer.
  scope.options(CORS_PATH, async (_request, reply) => sendError(reply, 'NOT_FOUND', null));
}

/**
 * The per-address budget as a route's `onRequest` hook, charging the same budget as the
 * WebSocket route: every request carries `X-RateLimit-Limit` (the burst), `-Remaining` and
 * `-Reset` (seconds until the bucket is full again); over budget ⇒ RATE_LIMITED (429,
 * `Retry-After` in seconds, `retryAfterMs` in the body) before the body is read.
 *
 * A synchronous hook rather than @fastify/rate-limit: the budget is our own token bucket either
 * way (the plugin only called it as a store), and the plugin's async hook with its awaits
 * cost measurably more per request (docs/PERFORMANCE.md).
 */
export function budgetHook(options: {
  budget: IpBudget;
  metrics: BrokerMetrics;
  proxyHops: number;
}): onRequestHookHandler {
  const { budget, metrics, proxyHops } = options;
  const refused = metrics.sessionRequests.labels('http', 'RATE_LIMITED');
  return (request, reply, done) => {
    const verdict = budget.take(clientAddress(request.raw, proxyHops).address);
    reply.header('x-ratelimit-limit', budget.burst);
    if (verdict.ok) {
      reply.header('x-ratelimit-remaining', verdict.remaining);
      reply.header('x-ratelimit-reset', Math.ceil(verdict.fullInMs / 1000));
      done();
      return;
    }
    refused.inc();
    reply.header('x-ratelimit-remaining', 0);
    reply.header('x-ratelimit-reset', Math.ceil(verdict.retryAfterMs / 1000));
    sendError(reply, 'RATE_LIMITED', null, undefined, verdict.retryAfterMs);
  };
}

/**
 * Security headers on the pages (the web app, its assets and the 404s): helmet's defaults plus
 * a CSP the built app works with — scripts only from this origin, WebSockets to any host (media
 * servers live elsewhere), no `upgrade-insecure-requests` (it would turn the ws:// of a plain
 * HTTP deployment into wss://). Register in the scope of the static site.
 *
 * Who may frame the pages follows the allowed origins: `frame-ancestors 'self'` plus each of
 * them (`*` ⇒ any site, the operator's explicit choice); with none, X-Frame-Options SAMEORIGIN
 * too, for browsers without CSP. Never the world by default.
 */
export async function registerSecurityHeaders(
  scope: FastifyInstance,
  options: { allowedOrigins?: readonly string[] | undefined } = {},
): Promise<void> {
  const framers = frameAncestors(options.allowedOrigins);
  await scope.register(fastifyHelmet, {
    contentSecurityPolicy: {
      useDefaults: true,
      directives: {
        'default-src': ["'self'"],
        'script-src': ["'self'"],
        'connect-src': ["'self'", 'ws:', 'wss:'],
        'img-src': ["'self'", 'data:', 'blob:'],
        'media-src': ["'self'", 'blob:'],
        'object-src': ["'none'"],
        'frame-ancestors': ["'self'", ...framers],
        'upgrade-insecure-requests': null,
      },
    },
    // X-Frame-Options cannot name other sites; CSP's frame-ancestors does, and wins where both are.
    xFrameOptions: framers.length === 0 ? { action: 'sameorigin' } : false,
  });
}

/**
 * `GET /v1/embed-config`: the origins that may frame the app (the same list as its CSP
 * `frame-ancestors`, which every page already publishes), so the app in an iframe knows whether
 * its parent page may drive it over postMessage (web/app/embed-bridge.ts). The answer is
 * `{ frameAncestors: string[] }` (web/embed/protocol.ts's `EmbedConfig`); the broker's own
 * origin is implied.
 */
export function registerEmbedConfigRoute(
  app: FastifyInstance,
  options: { allowedOrigins?: readonly string[] | undefined },
): void {
  const body = JSON.stringify({ frameAncestors: frameAncestors(options.allowedOrigins) });
  app.get('/v1/embed-config', async (_request, reply) =>
    reply.type('application/json; charset=utf-8').header('cache-control', 'no-cache').send(body),
  );
}

/** The allowed origins as CSP sources: `*`, or http(s) origins (anything else is left out). */
export function frameAncestors(allowedOrigins: readonly string[] | undefined): string[] {
  const out: string[] = [];
  for (const entry of allowedOrigins ?? []) {
    const trimmed = entry.trim();
    if (trimmed === '*') return ['*'];
    try {
      const url = new URL(trimmed);
      if ((url.protocol === 'http:' || url.protocol === 'https:') && url.origin !== 'null')
        out.push(url.origin);
    } catch {
      // Not an origin: the CLI validates its input; a programmatic caller's typo frames nothing.
    }
  }
  return [...new Set(out)];
}
