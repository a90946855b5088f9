// The operations the load generator repeats: a session request over a kept WebSocket or a
// fresh one, Usher's full join (assign + media connect + join) and Colyseus's full join.
import { KeptHttpConnection, type LeanResponse, leanPost } from '../lib/lean-http.ts';
import { LeanWs } from '../lib/lean-ws.ts';
import type { Operation } from './closed-loop.ts';

export interface RoomSpec {
  /** Room names are `<prefix>-<n>`; must be unique per run so rooms start empty. */
  prefix: string;
  /** Consecutive requests share a room this many at a time (rooms of 2–8 in real calls). */
  size: number;
}

export interface BuiltOperation {
  op: Operation;
  cleanup(): void;
}

/** POST per slot: over the slot's kept connection, or a fresh one each time. */
function poster(host: string, port: number, kept: boolean) {
  const connections = new Map<number, KeptHttpConnection>();
  return {
    post(slot: number, path: string, body: string): Promise<LeanResponse> {
      if (!kept) return leanPost(host, port, path, body);
      let connection = connections.get(slot);
      if (connection === undefined) {
        connection = new KeptHttpConnection(host, port);
        connections.set(slot, connection);
      }
      return connection.post(path, body);
    },
    close(): void {
      for (const connection of connections.values()) connection.close();
    },
  };
}

export function roomOf(spec: RoomSpec, seq: number): string {
  return `${spec.prefix}-${Math.floor(seq / spec.size)}`;
}

export function sessionRequestText(spec: RoomSpec, seq: number): string {
  return `{"type":"session.request","v":1,"id":"${seq.toString(36)}","room":"${roomOf(spec, seq)}","name":"bench"}`;
}

/** undefined for a session.assigned (or the limit's stand-in), else the error code. */
export function replyError(text: string): string | undefined {
  if (text.includes('"type":"session.assigned"')) return undefined;
  return /"code":"([A-Z_]+)"/.exec(text)?.[1] ?? 'BAD_REPLY';
}

const ID = /"id":"([^"]*)"/;

/** One kept connection per slot, one request in flight on it at a time. */
export function persistentRequests(url: string, spec: RoomSpec): BuiltOperation {
  interface Slot {
    ws: LeanWs | null;
    open: boolean;
    id: string;
    text: string;
    done: ((error?: string) => void) | null;
  }
  const slots = new Map<number, Slot>();
  const all = new Set<LeanWs>();
  const connect = (slot: Slot): void => {
    slot.open = false;
    const ws = new LeanWs(url, {
      onOpen: () => {
        slot.open = true;
        if (slot.done !== null) ws.send(slot.text);
      },
      onText: (_ws, text) => {
        const done = slot.done;
        if (done === null || ID.exec(text)?.[1] !== slot.id) return;
        slot.done = null;
        done(replyError(text));
      },
      onClose: (_ws, code) => {
        all.delete(ws);
        slot.ws = null;
        slot.open = false;
        const done = slot.done;
        slot.done = null;
        done?.(`CLOSED_${code}`);
      },
    });
    all.add(ws);
    slot.ws = ws;
  };
  return {
    op(slotIndex, seq, done) {
      let slot = slots.get(slotIndex);
      if (slot === undefined) {
        slot = { ws: null, open: false, id: '', text: '', done: null };
        slots.set(slotIndex, slot);
      }
      slot.id = seq.toString(36);
      slot.text = sessionRequestText(spec, seq);
      slot.done = done;
      if (slot.ws === null) connect(slot);
      else if (slot.open) slot.ws.send(slot.text);
    },
    cleanup() {
      for (const ws of all) ws.destroy();
    },
  };
}

/** Connect, request, read the reply, close: as a browser that opens the broker socket to join. */
export function perConnectionRequests(url: string, spec: RoomSpec): BuiltOperation {
  const all = new Set<LeanWs>();
  return {
    op(_slot, seq, done) {
      let answered = false;
      const ws = new LeanWs(url, {
        onOpen: (socket) => socket.send(sessionRequestText(spec, seq)),
        onText: (socket, text) => {
          if (answered) return;
          answered = true;
          done(replyError(text));
          socket.close();
        },
        onClose: (_socket, code) => {
          all.delete(ws);
          if (!answered) {
            answered = true;
            done(`CLOSED_${code}`);
          }
        },
      });
      all.add(ws);
    },
    cleanup() {
      for (const ws of all) ws.destroy();
    },
  };
}

/** Usher's full join: POST /v1/sessions, connect to server.url, join with the ticket, joined. */
export function usherJoins(
  brokerHost: string,
  brokerPort: number,
  spec: RoomSpec,
  kept: boolean,
): BuiltOperation {
  const all = new Set<LeanWs>();
  const http = poster(brokerHost, brokerPort, kept);
  return {
    op(slot, seq, done) {
      let finished = false;
      const end = (error?: string): void => {
        if (finished) return;
        finished = true;
        done(error);
      };
      http.post(slot, '/v1/sessions', sessionRequestText(spec, seq)).then(
        (response) => {
          if (response.status !== 200) return end(replyError(response.body));
          const assigned = JSON.parse(response.body) as {
            ticket: string;
            room: string;
            server: { url: string };
          };
          const join = JSON.stringify({ type: 'join', v: 1, ticket: assigned.ticket, room: assigned.room });
          const ws = new LeanWs(assigned.server.url, {
            onOpen: (socket) => socket.send(join),
            onText: (socket, text) => {
              if (text.includes('"type":"joined"')) {
                end();
                socket.close();
              } else if (text.includes('"type":"error"')) {
                end(replyError(text));
                socket.close();
              }
            },
            onClose: (_socket, code) => {
              all.delete(ws);
              end(`MEDIA_CLOSED_${code}`);
            },
          });
          all.add(ws);
        },
        (error: Error) => end(`HTTP_${error.message.replaceAll(' ', '_').toUpperCase()}`),
      );
    },
    cleanup() {
      http.close();
      for (const ws of all) ws.destroy();
    },
  };
}

/** Colyseus's full join: matchmaker seat reservation, then the room's WebSocket and its JOIN_ROOM. */
export function colyseusJoins(host: string, port: number, roomName: string, kept: boolean): BuiltOperation {
  const all = new Set<LeanWs>();
  const http = poster(host, port, kept);
  const JOIN_ROOM = 10;
  const ack = Buffer.from([JOIN_ROOM]);
  return {
    op(slot, _seq, done) {
      let finished = false;
      const end = (error?: string): void => {
        if (finished) return;
        finished = true;
        done(error);
      };
      http.post(slot, `/matchmake/joinOrCreate/${roomName}`, '{}').then(
        (response) => {
          if (response.status !== 200) return end(`HTTP_${response.status}`);
          const seat = JSON.parse(response.body) as { sessionId: string; roomId: string; processId: string };
          const url = `ws://${host}:${port}/${seat.processId}/${seat.roomId}?sessionId=${seat.sessionId}`;
          const ws = new LeanWs(url, {
            onOpen: () => {},
            onText: () => {},
            onBinary: (socket, data) => {
              if (data[0] === JOIN_ROOM) {
                // The SDK acknowledges JOIN_ROOM; the server completes the join on it.
                socket.sendBinary(ack);
                end();
                socket.close();
              } else {
                end(`COLYSEUS_${data[0]}`);
                socket.close();
              }
            },
            onClose: (_socket, code) => {
              all.delete(ws);
              end(`ROOM_CLOSED_${code}`);
            },
          });
          all.add(ws);
        },
        (error: Error) => end(`HTTP_${error.message.replaceAll(' ', '_').toUpperCase()}`),
      );
    },
    cleanup() {
      http.close();
      for (const ws of all) ws.destroy();
    },
  };
}
