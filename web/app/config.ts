// What the page was asked to do, from its URL: which broker to use (same origin unless
// `?broker=`), the room, name and autojoin flag that prefill (or skip) the join form, and
// `?relay=1` to send all media through the broker's TURN servers.

export interface AppConfig {
  brokerUrl: string;
  room: string;
  name: string;
  autojoin: boolean;
  /** 'relay' with `?relay=1`; otherwise the browser default. */
  iceTransportPolicy: RTCIceTransportPolicy | undefined;
}

export function readConfig(location: Pick<Location, 'protocol' | 'host' | 'search'>): AppConfig {
  const params = new URLSearchParams(location.search);
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  return {
    brokerUrl: params.get('broker') || `${scheme}://${location.host}/v1/session`,
    room: params.get('room') || 'lobby',
    name: params.get('name') ?? '',
    autojoin: params.get('autojoin') === '1',
    iceTransportPolicy: params.get('relay') === '1' ? 'relay' : undefined,
  };
}

/** Room names the broker accepts (shared/protocol/common.ts RoomName). */
export const ROOM_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._\\-]*$';
