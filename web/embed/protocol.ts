// The iframe embed's postMessage API, shared by the app's embed mode (web/app/embed-bridge.ts)
// and the host-side helper (usher-embed.ts): every message is `{ usher: 1, type, ... }`.
// Plain types and one guard, no runtime library: the helper must stay a few kB.

export const EMBED_PROTOCOL = 1;

export type MediaKind = 'audio' | 'video';

/** Host page → iframe. */
export type EmbedCommand =
  | { usher: 1; type: 'join' }
  | { usher: 1; type: 'leave' }
  | { usher: 1; type: 'mute'; kind: MediaKind }
  | { usher: 1; type: 'unmute'; kind: MediaKind }
  | { usher: 1; type: 'toggleScreenShare' }
  | { usher: 1; type: 'setToken'; token: string };

export interface EmbedPeer {
  id: string;
  name: string;
}

/** Iframe → host page; `detail` as the widget's DOM events carry it (docs/EMBED.md). */
export type EmbedEvent =
  | { usher: 1; type: 'ready' }
  | { usher: 1; type: 'joined'; room: string; peerId: string | null; serverId: string | null }
  | { usher: 1; type: 'left'; reason: 'leave' | 'error' }
  | { usher: 1; type: 'peer-joined'; peer: EmbedPeer }
  | { usher: 1; type: 'peer-left'; peer: EmbedPeer }
  | { usher: 1; type: 'reconnecting'; reason: string }
  | { usher: 1; type: 'moved'; from: string; to: string; detectedAt: number; rejoinedAt: number }
  | { usher: 1; type: 'muted'; audio: boolean; video: boolean; sharing: boolean }
  | { usher: 1; type: 'error'; code: string; message: string };

export type EmbedEventType = EmbedEvent['type'];

/** Longest token accepted over postMessage (a join token is a few hundred bytes). */
export const MAX_TOKEN_CHARS = 4096;

const isKind = (value: unknown): value is MediaKind => value === 'audio' || value === 'video';

/** A command as the iframe receives it from the host: anything else is ignored. */
export function parseCommand(data: unknown): EmbedCommand | null {
  if (typeof data !== 'object' || data === null) return null;
  const m = data as Record<string, unknown>;
  if (m.usher !== EMBED_PROTOCOL) return null;
  switch (m.type) {
    case 'join':
    case 'leave':
    case 'toggleScreenShare':
      return { usher: 1, type: m.type };
    case 'mute':
    case 'unmute':
      return isKind(m.kind) ? { usher: 1, type: m.type, kind: m.kind } : null;
    case 'setToken':
      return typeof m.token === 'string' && m.token.length > 0 && m.token.length <= MAX_TOKEN_CHARS
        ? { usher: 1, type: 'setToken', token: m.token }
        : null;
    default:
      return null;
  }
}

/** What `GET /v1/embed-config` answers: the origins that may frame the app and drive it
 *  (the broker's own origin is always one of them); `['*']` when every site may. */
export interface EmbedConfig {
  frameAncestors: string[];
}

/** Whether a parent page of `origin` may drive the embedded app (`self` is the app's origin). */
export function parentAllowed(origin: string, self: string, config: EmbedConfig): boolean {
  if (origin === 'null' || origin === '') return false;
  return origin === self || config.frameAncestors.includes('*') || config.frameAncestors.includes(origin);
}
