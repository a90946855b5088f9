// What the page was asked to do, from its URL: which broker to use (same origin unless
// `?broker=`), the room and name that prefill (or, with autojoin=1, skip) the pre-join page,
// `?relay=1` to send all media through the broker's TURN servers, and the embed mode (`/embed` or
// `?embed=1`: no page chrome, joins by itself unless `autojoin=0`, `?token=` from the host). Also the reverse: the
// URL of a call (reload lands in the same room) and the invite link (room only).

export interface AppConfig {
  brokerUrl: string;
  /** The room as typed by whoever made the link (friendly name or canonical id). */
  room: string;
  name: string;
  autojoin: boolean;
  /** In an iframe of another site (`/embed` or `?embed=1`): no page chrome, compact controls. */
  embed: boolean;
  /** A join token given in the URL (embed mode); otherwise the local stack's dev endpoint. */
  token: string | null;
  /** 'relay' with `?relay=1`; otherwise the browser default. */
  iceTransportPolicy: RTCIceTransportPolicy | undefined;
}

export function readConfig(
  location: Pick<Location, 'protocol' | 'host' | 'search'> & { pathname?: string },
): AppConfig {
  const params = new URLSearchParams(location.search);
  const embed = params.get('embed') === '1' || /^\/embed\/?$/.test(location.pathname ?? '');
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  return {
    brokerUrl: params.get('broker') || `${scheme}://${location.host}/v1/session`,
    room: params.get('room') || 'lobby',
    name: params.get('name') ?? '',
    // The embed joins the room from its URL unless the host asks it to wait (for a token, a click).
    autojoin: embed ? params.get('autojoin') !== '0' : params.get('autojoin') === '1',
    embed,
    token: params.get('token') || null,
    iceTransportPolicy: params.get('relay') === '1' ? 'relay' : undefined,
  };
}

/** The page's URL once in `room` as `name`: other parameters (broker, relay) are kept. */
export function callUrl(href: string, room: string, name: string): string {
  const url = new URL(href);
  url.searchParams.set('room', room);
  if (name === '') url.searchParams.delete('name');
  else url.searchParams.set('name', name);
  return url.toString();
}

/** The link to send others: the room (and a non-default broker), not our name or test flags. */
export function inviteUrl(href: string, room: string): string {
  const url = new URL(href);
  const broker = url.searchParams.get('broker');
  url.search = '';
  url.hash = '';
  url.searchParams.set('room', room);
  if (broker !== null) url.searchParams.set('broker', broker);
  return url.toString();
}
