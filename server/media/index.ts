// Public entry of the media/signaling server: fills in defaults, starts the HTTP/WS
// server, and (when brokers are configured) one control channel per broker that registers it.
import type { Capacity, ControlParticipant } from '../../shared/protocol/control.ts';
import type { KeyRing } from '../common/keys.ts';
import type { Logger } from '../common/logger.ts';
import type { TlsSource } from '../common/tls.ts';
import type { RateLimitOptions } from '../common/token-bucket.ts';
import type { MediaConnection } from './connection.ts';
import { type ControlClient, createControlClient } from './control-client.ts';
import { Participants } from './participants.ts';
import { RoomRegistry } from './rooms.ts';
import { DEFAULT_SEAT_WINDOW_MS, SeatBook } from './seats.ts';
import { MEDIA_PATH, type ServerHandle, startServer } from './server.ts';

export interface MediaServerOptions {
  /** Server id (ServerId pattern). */
  id: string;
  /** Default '127.0.0.1'. */
  host?: string;
  /** 0 = ephemeral. */
  port: number;
  /** What clients use; default from publicHost, else `ws(s)://<host>:<port>/v1/media` (127.0.0.1 for a wildcard host). */
  publicUrl?: string;
  /** Host name or address clients reach this server at: the URL is `ws(s)://<publicHost>:<port>/v1/media`. */
  publicHost?: string;
  /** Serve WSS with this certificate (reloaded by `reloadTls()`). */
  tls?: TlsSource;
  /** http(s) URL of the broker; undefined ⇒ no registration (tests). */
  brokerUrl?: string;
  /**
   * Several brokers sharing room pins (Redis): the server registers with each, so every
   * broker knows the whole fleet first-hand. Combined with brokerUrl when both are given.
   */
  brokerUrls?: readonly string[];
  keys: KeyRing;
  logger: Logger;
  /** Defaults: maxRooms 10 000, maxPeersPerRoom 50, maxPeers 20 000. */
  capacity?: Partial<Capacity>;
  /** Default 10 000. */
  joinTimeoutMs?: number;
  /** Default 30 000 (clients ping every second). */
  idleTimeoutMs?: number;
  /** Default 10 000. */
  drainGraceMs?: number;
  /** An HTTP request must send its headers (and all of itself) within this long, else 408 IDLE_TIMEOUT. Default 10 000. */
  headerTimeoutMs?: number;
  /** Clock, default Date.now. */
  now?: () => number;
  /** A seat confirmed to a broker and not joined within this long is released. Default 15 000. */
  seatWindowMs?: number;
  /**
   * Refuse broker-signed tickets: only this server's own seat confirmations admit, so nothing
   * that holds the fleet secret can mint a join here. Default false (brokers with seat
   * confirmation off still work).
   */
  requireSeat?: boolean;
  /** Per-connection message limit; default 100 burst, 50/s, closed 400 messages past the limit. */
  rateLimit?: Partial<RateLimitOptions>;
}

export interface MediaServer {
  readonly id: string;
  /** Public ws URL. */
  readonly url: string;
  readonly port: number;
  stats(): { rooms: number; peers: number; draining: boolean };
  /** Migrate everyone, stop accepting joins; resolves when empty or after drainGraceMs. */
  drain(): Promise<void>;
  /** Reads the TLS files again for new connections (SIGHUP); false when not TLS or the files are bad. */
  reloadTls(): boolean;
  /** Close everything (idempotent). */
  close(): Promise<void>;
}

/** 100 at once, 50/s sustained; a client that sends 5× its burst without pausing is closed. */
export const DEFAULT_RATE_LIMIT: RateLimitOptions = { burst: 100, perSecond: 50, abuseDebt: 400 };

/** Browsers send an upgrade's headers in one packet: ten seconds is generous, and frees a slow client's socket. */
export const DEFAULT_HEADER_TIMEOUT_MS = 10_000;

export const DEFAULT_CAPACITY: Capacity = { maxRooms: 10_000, maxPeersPerRoom: 50, maxPeers: 20_000 };

/** Resolves once listening; broker registration goes on in the background. */
export async function createMediaServer(options: MediaServerOptions): Promise<MediaServer> {
  const { id, logger } = options;
  const host = options.host ?? '127.0.0.1';
  const capacity: Capacity = { ...DEFAULT_CAPACITY, ...definedOnly(options.capacity ?? {}) };
  const controls: ControlClient[] = [];
  const now = options.now ?? Date.now;
  const participants = new Participants(now);
  const startedAt = now();
  const rooms = new RoomRegistry<MediaConnection>({
    opened: (room) => {
      for (const control of controls) control.roomOpened(room);
    },
    closed: (room) => {
      for (const control of controls) control.roomClosed(room);
    },
    added: (room, member, previous) => {
      if (previous !== undefined) {
        participants.continued(previous, member);
        return;
      }
      const entry = participants.joined(room, member);
      for (const control of controls) control.memberJoined(entry);
    },
    removed: (room, member, how) => {
      const entry = participants.left(room, member, how);
      for (const control of controls) control.memberLeft(entry);
    },
  });
  let publicUrl = '';
  let handle: ServerHandle | undefined;
  const seats = new SeatBook({
    serverId: id,
    url: () => publicUrl,
    capacity,
    now,
    windowMs: options.seatWindowMs ?? DEFAULT_SEAT_WINDOW_MS,
    host: {
      get peerCount() {
        return rooms.peerCount;
      },
      get roomCount() {
        return rooms.roomCount;
      },
      size: (room) => rooms.size(room),
      draining: () => handle?.stats().draining ?? false,
    },
  });
  const server = await startServer({
    id,
    host,
    port: options.port,
    keys: options.keys,
    logger,
    capacity,
    joinTimeoutMs: options.joinTimeoutMs ?? 10_000,
    idleTimeoutMs: options.idleTimeoutMs ?? 30_000,
    drainGraceMs: options.drainGraceMs ?? 10_000,
    headerTimeoutMs: options.headerTimeoutMs ?? DEFAULT_HEADER_TIMEOUT_MS,
    publicUrl: () => publicUrl,
    rateLimit: { ...DEFAULT_RATE_LIMIT, ...definedOnly(options.rateLimit ?? {}) },
    now,
    rooms,
    ...(options.tls === undefined ? {} : { tls: options.tls }),
    seats,
    requireSeat: options.requireSeat ?? false,
    onDraining: () => {
      for (const control of controls) control.reportNow();
    },
    onRemoving: (member) => participants.markRemoving(member),
  });
  const port = server.port;
  handle = server;
  const url =
    options.publicUrl ??
    defaultPublicUrl(options.publicHost ?? host, port, options.tls === undefined ? 'ws' : 'wss');
  publicUrl = url;
  logger.info({ id, url, port }, 'media server listening');

  const brokerUrls = [
    ...new Set([
      ...(options.brokerUrl === undefined ? [] : [options.brokerUrl]),
      ...(options.brokerUrls ?? []),
    ]),
  ];
  for (const brokerUrl of brokerUrls) {
    const control = createControlClient({
      brokerUrl,
      id,
      url,
      keys: options.keys,
      logger,
      capacity,
      startedAt,
      snapshot: () => ({
        peers: rooms.peerCount,
        rooms: rooms.roomCount,
        draining: server.stats().draining,
        roomList: () => [...rooms.list()],
        seats: seats.size,
        members: () => {
          const members: ControlParticipant[] = [];
          for (const { room } of rooms.list())
            for (const member of rooms.members(room))
              if (member.joined) members.push(participants.entry(room, member));
          return members;
        },
      }),
      onDrain: () => {
        server.drain().catch((error: unknown) => logger.error({ err: error }, 'drain failed'));
      },
      onMigrateRoom: (room) => {
        server.migrateRoom(room);
      },
      onRemoveParticipant: (room, identity) => {
        server.removeParticipant(room, identity);
      },
      onReserve: (request) => seats.reserve(request),
    });
    controls.push(control);
  }

  let closing: Promise<void> | undefined;
  return {
    id,
    url,
    port,
    stats: () => server.stats(),
    drain: () => server.drain(),
    reloadTls: () => server.reloadTls(),
    close() {
      closing ??= (async () => {
        await Promise.all(controls.map((control) => control.close()));
        await server.close();
      })();
      return closing;
    },
  };
}

export function defaultPublicUrl(host: string, port: number, scheme: 'ws' | 'wss' = 'ws'): string {
  const reachable = isWildcardHost(host) ? '127.0.0.1' : host;
  const hostPart = reachable.includes(':') && !reachable.startsWith('[') ? `[${reachable}]` : reachable;
  return `${scheme}://${hostPart}:${port}${MEDIA_PATH}`;
}

/** 0.0.0.0 / :: (every interface). */
export function isWildcardHost(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '' || host === '[::]';
}

/** `{ maxRooms: undefined }` must not override a default. */
function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
