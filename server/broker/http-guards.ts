// The broker's HTTP guards from the Fastify ecosystem, configured for Usher: CORS on the
// session route (@fastify/cors), the per-address budget on it (@fastify/rate-limit over
// our shared store) and security headers on the pages (@fastify/helmet).
import fastifyCors from '@fastify/cors';
import fastifyHelmet from '@fastify/helmet';
import fastifyRateLimit from '@fastify/rate-limit';
import type { FastifyInstance } from 'fastify';
import { clientAddress } from './client-address.ts';
import { RequestError } from './http-errors.ts';
import { type IpBudget, rateLimitStore } from './ip-budget.ts';
import type { BrokerMetrics } from './metrics.ts';
import type { OriginPolicy } from './origin.ts';

/** The one cross-origin HTTP route; the WebSockets check Origin themselves (CORS does not apply). */
const CORS_PATH = '/v1/sessions';

/**
 * CORS for `POST /v1/sessions`: allowed origins get their origin reflected (or `*` when any
 * origin is allowed), a preflight answer and the rate-limit headers exposed; everyone else gets
 * no CORS headers (and the route's own origin check answers FORBIDDEN_ORIGIN). Register in
 * the scope of the session routes.
 */
export async function registerCors(
  scope: FastifyInstance,
  options: { originAllowed: OriginPolicy; anyOrigin: boolean },
): Promise<void> {
  const { originAllowed, anyOrigin } = options;
  // Built once: the delegator runs on every request of the scope (also WebSocket upgrades).
  const base = {
    methods: ['POST'],
    allowedHeaders: ['content-type'],
    exposedHeaders: ['retry-after', 'x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-reset'],
    maxAge: 600,
    // A malformed preflight gets the plugin's 204 rather than a text/plain 400 outside the catalogue.
    strictPreflight: false,
  };
  const allow = { ...base, origin: anyOrigin ? '*' : true };
  const deny = { ...base, origin: false };
  await scope.register(fastifyCors, {
    hook: 'onRequest',
    delegator: (request, callback) => {
      const origin = request.headers.origin;
      const allowed =
        origin !== undefined &&
        request.url.split('?', 1)[0] === CORS_PATH &&
        originAllowed(origin, request.headers.host);
      callback(null, allowed ? allow : deny);
    },
  });
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
