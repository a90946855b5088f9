// Test support: a real WebSocket server on 127.0.0.1 port 0 whose behaviour each test
// scripts, closed (with every client it accepted) when the test ends, even on failure.
import type { AddressInfo } from 'node:net';
import type { TestContext } from 'node:test';
import { WebSocket, WebSocketServer } from 'ws';
import type { WebSocketConstructor } from '../websocket.ts';

/** The `ws` client class as the SDK's WebSocket constructor. */
export const NodeWebSocket = WebSocket as unknown as WebSocketConstructor;

export interface TestServer {
  url: string;
  port: number;
  server: WebSocketServer;
  /** Every socket accepted so far. */
  sockets: WebSocket[];
  /** JSON messages received, in order, with the socket they came on. */
  received: Array<{ socket: WebSocket; msg: Record<string, unknown> }>;
  /** The first message (at index >= from) matching `match`, now or when it arrives. Works
   *  under fake timers: it waits on socket events, not on a clock. */
  message(match: (msg: Record<string, unknown>) => boolean, from?: number): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

export type OnMessage = (socket: WebSocket, msg: Record<string, unknown>) => void;

export async function startServer(t: TestContext, onMessage: OnMessage, path = '/'): Promise<TestServer> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;
  const sockets: WebSocket[] = [];
  const received: TestServer['received'] = [];
  const waiters = new Set<() => void>();
  server.on('connection', (socket) => {
    sockets.push(socket);
    socket.on('message', (data) => {
      const msg = JSON.parse(String(data)) as Record<string, unknown>;
      received.push({ socket, msg });
      onMessage(socket, msg);
      for (const wake of [...waiters]) wake();
    });
  });
  const message: TestServer['message'] = (match, from = 0) =>
    new Promise((resolve) => {
      const check = (): void => {
        const hit = received.slice(from).find((entry) => match(entry.msg));
        if (hit === undefined) return;
        waiters.delete(check);
        resolve(hit.msg);
      };
      waiters.add(check);
      check();
    });
  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    for (const socket of sockets) socket.terminate();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  t.after(close);
  return { url: `ws://127.0.0.1:${port}${path}`, port, server, sockets, received, message, close };
}

export function send(socket: WebSocket, msg: unknown): void {
  socket.send(JSON.stringify(msg));
}

/** Resolves with the args of the next `event` from an SDK emitter. */
export function nextEvent<A extends unknown[]>(
  emitter: { on(event: string, fn: (...args: A) => void): () => void },
  event: string,
): Promise<A> {
  return new Promise((resolve) => {
    const off = emitter.on(event, (...args: A) => {
      off();
      resolve(args);
    });
  });
}

/** Poll `check` until it returns true or `timeoutMs` passes (real timers only). */
export { waitUntil as waitFor } from '../../../shared/testing/wait.ts';

/** A port that refuses connections: bound then released. */
export async function closedPort(): Promise<number> {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
