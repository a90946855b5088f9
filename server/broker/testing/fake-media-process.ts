// Test fixture: a media server reduced to its control channel, run as its own process so
// the broker tests can really SIGSTOP (freeze) and SIGKILL (crash) it.
// Env: BROKER_WS (ws://…/v1/control), MEDIA_ID, USHER_SECRET, HEARTBEAT_MS.
import WebSocket from 'ws';
import { parseSecret } from '../../common/keys.ts';
import { signControlToken } from '../../common/tickets.ts';

const id = process.env.MEDIA_ID ?? 'media-process';
const keys = parseSecret(process.env.USHER_SECRET);
const socket = new WebSocket(process.env.BROKER_WS ?? '');
const heartbeatMs = Number(process.env.HEARTBEAT_MS ?? 100);

socket.on('open', () => {
  signControlToken(keys, id).then(
    (token) =>
      socket.send(
        JSON.stringify({
          type: 'register',
          v: 1,
          id,
          url: `ws://127.0.0.1:9/${id}`,
          token,
          capacity: { maxRooms: 100, maxPeersPerRoom: 10, maxPeers: 1000 },
          draining: false,
          rooms: [],
        }),
      ),
    () => process.exit(1),
  );
});
socket.on('message', (data) => {
  const message = JSON.parse(String(data)) as { type: string };
  if (message.type !== 'registered') return;
  process.stdout.write('registered\n');
  setInterval(() => {
    socket.send(
      JSON.stringify({ type: 'load', v: 1, peers: 0, rooms: 0, draining: false, opened: [], closed: [] }),
    );
  }, heartbeatMs);
});
socket.on('close', () => process.exit(0));
socket.on('error', () => process.exit(1));
