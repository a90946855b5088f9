// The broker's HTTP guards, configured for Usher: CORS on the session route (one hook), the
// per-address budget on it (@fastify/rate-limit over our shared store) and security
// headers on the pages (@fastify/helmet).
import fastifyHelmet from '@fastify/helmet';
import fastifyRateLimit from '@fastify/rate-limit';
import type { FastifyInstance } from 'fastify';
import { clientAddress } from './client-address.ts';
import { RequestError, sendError } from './http-errors.ts';
import { type IpBudget, rateLimitStore } from './ip-budget.ts';
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
 * unanswered preflight NOT_FOUND). Register in the scope of the session routes, before the
 * rate limiter, so a browser can read the 429 too.
 *
 * One hook rather than @fastify/cors: the plugin's per-request options delegator (needed for
 * the same-host check and the single path) measured ≈ 8 µs of a ≈ 53 µs request, for a
 * policy of one path, one method and one header.
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
 * @fastify/rate-limit on the routes of this scope that set `config.rateLimit`, drawing on the
 * budget the WebSocket route also uses. Over budget ⇒ RATE_LIMITED (429, Retry-After, retryAfterMs).
 */
export async function registerRateLimit(
  scope: FastifyInstance,
  options: { budget: IpBudget; metrics: BrokerMetrics; proxyHops: number },
): Promise<void> {
  const { budget, metrics, proxyHops } = options;
  await scope.register(fastifyRateLimit, {
    global: false,
    max: budget.burst,
    timeWindow: 60_000,
    store: rateLimitStore(budget),
    keyGenerator: (request) => clientAddress(request.raw, proxyHops).address,
    errorResponseBuilder: (_request, context) =>
      new RequestError('RATE_LIMITED', null, undefined, context.ttl),
    onExceeded: () => metrics.sessionRequests.inc({ transport: 'http', result: 'RATE_LIMITED' }),
  });
}

/**
 * Security headers on the pages (the web app, its assets and the 404s): helmet's defaults plus
 * a CSP the built app works with — scripts only from this origin, WebSockets to any host (media
 * servers live elsewhere), no `upgrade-insecure-requests` (it would turn the ws:// of a plain
 * HTTP deployment into wss://). Register in the scope of the static site.
 */
export async function registerSecurityHeaders(scope: FastifyInstance): Promise<void> {
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
        'frame-ancestors': ["'self'"],
        'upgrade-insecure-requests': null,
      },
    },
  });
}
