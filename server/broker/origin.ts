// Browser Origin policy for the session endpoints (WebSocket upgrade and CORS): the
// broker's own origin (it serves the app) plus an allowlist, `*` for any. Non-browser
// clients send no Origin and are not subject to it: they cannot be driven by a hostile page.

export type OriginPolicy = (origin: string | undefined, host: string | undefined) => boolean;

/** `allowedOrigins` undefined or empty ⇒ the broker's own origin only. */
export function createOriginPolicy(allowedOrigins: readonly string[] | undefined): OriginPolicy {
  const allowed = new Set((allowedOrigins ?? []).map(normalize));
  if (allowed.has('*')) return () => true;
  return (origin, host) => {
    if (origin === undefined) return true;
    const normalized = normalize(origin);
    if (allowed.has(normalized)) return true;
    // Same origin as the page the broker served (scheme aside: a TLS proxy may sit in front).
    return host !== undefined && hostOf(normalized) === host.toLowerCase();
  };
}

/** True when every origin is allowed (CORS may then answer `*`). */
export function allowsAnyOrigin(allowedOrigins: readonly string[] | undefined): boolean {
  return (allowedOrigins ?? []).some((origin) => origin.trim() === '*');
}

function normalize(origin: string): string {
  return origin.trim().toLowerCase().replace(/\/+$/, '');
}

function hostOf(origin: string): string | undefined {
  try {
    return new URL(origin).host;
  } catch {
    return undefined;
  }
}
