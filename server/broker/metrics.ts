// The broker's Prometheus metrics, on a registry of its own (never prom-client's global
// one), so several brokers in one process — as in the tests — do not collide.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export interface BrokerMetrics {
  readonly registry: Registry;
  readonly serversRegistered: Counter;
  readonly serversLost: Counter<'reason'>;
  readonly roomMoves: Counter<'cause'>;
  readonly excludesIgnored: Counter<'reason'>;
  readonly splitsDetected: Counter;
  readonly splitsRepaired: Counter;
  readonly pinRepairs: Counter<'cause'>;
  readonly storeFailures: Counter<'op' | 'kind'>;
  readonly sessionRequests: Counter<'transport' | 'result'>;
  readonly sessionSeconds: Histogram<'transport'>;
  readonly sessionConnections: Gauge;
  readonly controlRejected: Counter<'code'>;
  readonly controlConnections: Gauge;
  readonly connectionsRefused: Counter<'route' | 'limit'>;
  readonly sessionIdleClosed: Counter;
  readonly httpClientErrors: Counter<'code'>;
  readonly seatReservations: Counter<'outcome'>;
  readonly seatTimeouts: Counter<'server'>;
}

export interface MetricSources {
  healthyServers: () => number;
  pinnedRooms: () => Promise<number>;
}

export function createBrokerMetrics(sources: MetricSources): BrokerMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  new Gauge({
    name: 'usher_broker_media_servers',
    help: 'Healthy media servers registered with this broker',
    registers,
    collect() {
      this.set(sources.healthyServers());
    },
  });
  new Gauge({
    name: 'usher_broker_rooms_pinned',
    help: 'Rooms pinned to a media server',
    registers,
    async collect() {
      try {
        this.set(await sources.pinnedRooms());
      } catch {
        // A shared pin store that is down (it logs that) must not take every other metric with it.
      }
    },
  });
  return {
    registry,
    serversRegistered: new Counter({
      name: 'usher_broker_media_server_registrations_total',
      help: 'Media server registrations accepted',
      registers,
    }),
    serversLost: new Counter({
      name: 'usher_broker_media_servers_lost_total',
      help: 'Media servers removed, by reason (heartbeat-timeout, control-closed)',
      labelNames: ['reason'],
      registers,
    }),
    roomMoves: new Counter({
      name: 'usher_broker_room_moves_total',
      help: 'Rooms moved to another media server, by cause (dead, frozen, drained, member, split, operator)',
      labelNames: ['cause'],
      registers,
    }),
    excludesIgnored: new Counter({
      name: 'usher_broker_excludes_ignored_total',
      help: "Session requests whose exclude of the room's healthy server was ignored, by reason (not-member, interval)",
      labelNames: ['reason'],
      registers,
    }),
    splitsDetected: new Counter({
      name: 'usher_broker_room_splits_detected_total',
      help: 'Rooms found live on two or more media servers at once',
      registers,
    }),
    splitsRepaired: new Counter({
      name: 'usher_broker_room_splits_repaired_total',
      help: 'Split rooms whose losing server reported the room closed (its members migrated)',
      registers,
    }),
    pinRepairs: new Counter({
      name: 'usher_broker_pin_repairs_total',
      help: 'Room pins rewritten to the server holding the room live, by cause (live-elsewhere, missing, store-reconnect, registration)',
      labelNames: ['cause'],
      registers,
    }),
    storeFailures: new Counter({
      name: 'usher_broker_store_failures_total',
      help: 'Shared room state (Redis) commands that failed, by operation and kind (timeout, unavailable, error); a timed-out write may still have been carried out',
      labelNames: ['op', 'kind'],
      registers,
    }),
    sessionRequests: new Counter({
      name: 'usher_broker_session_requests_total',
      help: 'Session requests answered, by transport (ws, http) and result (assigned, redirected or error code)',
      labelNames: ['transport', 'result'],
      registers,
    }),
    sessionSeconds: new Histogram({
      name: 'usher_broker_session_request_seconds',
      help: 'Time to answer a session request',
      labelNames: ['transport'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5],
      registers,
    }),
    sessionConnections: new Gauge({
      name: 'usher_broker_session_connections',
      help: 'Open client WebSocket connections on /v1/session',
      registers,
    }),
    controlRejected: new Counter({
      name: 'usher_broker_control_rejected_total',
      help: 'Control connections refused, by error code',
      labelNames: ['code'],
      registers,
    }),
    controlConnections: new Gauge({
      name: 'usher_broker_control_connections',
      help: 'Open WebSocket connections on /v1/control (registered or not)',
      registers,
    }),
    connectionsRefused: new Counter({
      name: 'usher_broker_connections_refused_total',
      help: 'WebSocket upgrades refused by a connection limit, by route (session, control) and limit (per-address, total, rate)',
      labelNames: ['route', 'limit'],
      registers,
    }),
    sessionIdleClosed: new Counter({
      name: 'usher_broker_session_idle_closed_total',
      help: 'Session WebSockets closed with IDLE_TIMEOUT after making no request for the idle timeout',
      registers,
    }),
    seatReservations: new Counter({
      name: 'usher_broker_seat_reservations_total',
      help: 'Seats asked of media servers, by outcome (reserved, SERVER_FULL, ROOM_FULL, SERVER_DRAINING, timeout, gone)',
      labelNames: ['outcome'],
      registers,
    }),
    seatTimeouts: new Counter({
      name: 'usher_broker_seat_timeouts_total',
      help: 'Seat reservations a media server did not confirm within the seat timeout, by server (counted against its health)',
      labelNames: ['server'],
      registers,
    }),
    httpClientErrors: new Counter({
      name: 'usher_broker_http_client_errors_total',
      help: 'HTTP connections answered and closed by the server itself (header/request timeout, malformed or oversized request), by code',
      labelNames: ['code'],
      registers,
    }),
  };
}
