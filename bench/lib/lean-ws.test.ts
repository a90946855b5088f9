// The hand-written client against the real `ws` server: frames of every length class,
// fragments, pings, close codes, refused handshakes and dead ports.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import { WebSocketServer } from 'ws';
import { waitUntil } from '../../shared/testing/wait.ts';
import { LeanWs } from './lean-ws.ts';

interface Harness {
  url: string;
  wss: WebSocketServer;
  http: Server;
  close(): Promise<void>;
}

async function startServer(onConnection: (socket: import('ws').WebSocket) => void): Promise<Harness> {
  const http = createServer((_req, res) => res.writeHead(404).end());
  const wss = new WebSocketServer({ server: http, path: '/v1/x' });
  wss.on('connection', onConnection);
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
  const { port } = http.address() as AddressInfo;
  return {
    url: `ws://127.0.0.1:${port}/v1/x`,
    wss,
    http,
    close: async () => {
      for (const client of wss.clients) client.terminate();
      wss.close();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

interface Seen {
  texts: string[];
  binaries: Buffer[];
  opened: boolean;
  closed: Promise<{ code: number; reason: string }>;
}

function client(url: string, onOpen: (ws: LeanWs) => void = () => {}, timeoutMs?: number) {
  let resolveClosed!: (value: { code: number; reason: string }) => void;
  const seen: Seen = {
    texts: [],
    binaries: [],
    opened: false,
    closed: new Promise((resolve) => {
      resolveClosed = resolve;
    }),
  };
  const ws = new LeanWs(
    url,
    {
      onOpen: (socket) => {
        seen.opened = true;
        onOpen(socket);
      },
      onText: (_socket, text) => seen.texts.push(text),
      onBinary: (_socket, data) => seen.binaries.push(Buffer.from(data)),
      onClose: (_socket, code, reason) => resolveClosed({ code, reason }),
    },
    timeoutMs === undefined ? {} : { handshakeTimeoutMs: timeoutMs },
  );
  return { ws, seen };
}

const until = (condition: () => boolean): Promise<void> => waitUntil(condition, 'the expected frames');

describe('LeanWs', () => {
  test('echoes text of every length class, unmasked correctly by ws', async (t) => {
    const server = await startServer((socket) => socket.on('message', (data) => socket.send(String(data))));
    t.after(() => server.close());
    const sizes = [0, 1, 125, 126, 127, 65_535, 65_536, 200_000];
    const payloads = sizes.map((size, index) => `${index}:`.padEnd(size, 'é'.charAt(0)).slice(0, size));
    const { ws, seen } = client(server.url, (socket) => {
      for (const payload of payloads) socket.send(payload);
    });
    await until(() => seen.texts.length === payloads.length);
    assert.deepEqual(seen.texts, payloads);
    ws.close();
    assert.equal((await seen.closed).code, 1000);
  });

  test('multi-byte UTF-8 survives masking', async (t) => {
    const server = await startServer((socket) => socket.on('message', (data) => socket.send(String(data))));
    t.after(() => server.close());
    const text = 'Grüße, 東京 🎧 '.repeat(20);
    const { ws, seen } = client(server.url, (socket) => socket.send(text));
    await until(() => seen.texts.length === 1);
    assert.equal(seen.texts[0], text);
    ws.destroy();
    await seen.closed;
  });

  test('reassembles fragmented messages and answers pings', async (t) => {
    let pongs = 0;
    const server = await startServer((socket) => {
      socket.on('pong', () => {
        pongs += 1;
      });
      socket.ping(Buffer.from('hi'));
      socket.send('abc', { fin: false });
      socket.send('def', { fin: true });
      socket.send(Buffer.from([10, 1, 2]), { binary: true });
    });
    t.after(() => server.close());
    const { ws, seen } = client(server.url);
    await until(() => seen.texts.length === 1 && seen.binaries.length === 1 && pongs === 1);
    assert.equal(seen.texts[0], 'abcdef');
    assert.deepEqual([...seen.binaries[0]!], [10, 1, 2]);
    ws.close();
    await seen.closed;
  });

  test('reports the server close code', async (t) => {
    const server = await startServer((socket) => socket.close(4401, 'no'));
    t.after(() => server.close());
    const { seen } = client(server.url);
    assert.deepEqual(await seen.closed, { code: 4401, reason: 'no' });
    assert.equal(seen.opened, true);
  });

  test('a refused handshake, a dead port and a silent server all end in 1006', async (t) => {
    const server = await startServer(() => {});
    t.after(() => server.close());
    const refused = client(server.url.replace('/v1/x', '/nope'));
    const refusedClose = await refused.seen.closed;
    assert.equal(refusedClose.code, 1006);
    assert.match(refusedClose.reason, /handshake refused: HTTP\/1.1 (400|404)/);
    assert.equal(refused.seen.opened, false);

    const dead = client('ws://127.0.0.1:1/');
    assert.equal((await dead.seen.closed).code, 1006);

    const silent = createServer(() => {});
    silent.on('upgrade', () => {}); // never answers: like a SIGSTOPped server
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    t.after(() => {
      silent.closeAllConnections();
      silent.close();
    });
    const { port } = silent.address() as AddressInfo;
    const started = Date.now();
    const slow = client(`ws://127.0.0.1:${port}/`, () => {}, 150);
    assert.deepEqual(await slow.seen.closed, { code: 1006, reason: 'handshake timeout' });
    assert.ok(Date.now() - started >= 140);
  });
});
