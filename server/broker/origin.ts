// Browser Origin policy for the session endpoints (WebSocket upgrade and CORS): an
// allowlist, plus the broker's own origin (it serves the app). Non-browser clients send
// no Origin and are not subject to it: they cannot be driven by a hostile page.

export type OriginPolicy = (origin: string | undefined, host: string | undefined) => boolean;

export function createOriginPolicy(allowedOrigins: readonly string[] | undefined): OriginPolicy {
  if (allowedOrigins === undefined) return () => true;
  const allowed = new Set(allowedOrigins.map(normalize));
  const any = allowed.has('*');
  return (origin, host) => {
    if (origin === undefined || any) return true;
    const normalized = normalize(origin);
    if (allowed.has(normalized)) return true;
    return host !== undefined && hostOf(normalized) === host.toLowerCase();
  };
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
