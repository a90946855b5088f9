// The slice of the WebSocket API the SDK uses, so the browser's WebSocket and the `ws`
// package (in node tests) are interchangeable: pass either constructor in the options.
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export type WebSocketConstructor = new (url: string) => WebSocketLike;

export const WS_OPEN = 1;

export function defaultWebSocket(): WebSocketConstructor {
  const ctor = (globalThis as { WebSocket?: unknown }).WebSocket;
  if (typeof ctor !== 'function') {
    throw new TypeError('no global WebSocket: pass a WebSocket constructor in the options');
  }
  return ctor as WebSocketConstructor;
}

/** Detach every handler and close, ignoring errors (the socket may already be dead). */
export function discardSocket(socket: WebSocketLike, code = 1000, reason = ''): void {
  socket.onopen = null;
  socket.onmessage = null;
  socket.onclose = null;
  socket.onerror = null;
  try {
    socket.close(code, reason);
  } catch {
    // Closing a socket that never opened throws in some implementations; it is gone either way.
  }
}

/** Parse a text frame into an object with a string `type`, or null. */
export function parseFrame(data: unknown): ({ type: string } & Record<string, unknown>) | null {
  if (typeof data !== 'string') return null;
  let value: unknown;
  try {
    value = JSON.parse(data);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return null;
  const record = value as Record<string, unknown>;
  return typeof record.type === 'string' ? (record as { type: string } & Record<string, unknown>) : null;
}
