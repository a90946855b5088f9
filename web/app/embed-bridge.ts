// The app's embed mode talks to the page that frames it (docs/EMBED.md §4): commands in, events
// out, `{ usher: 1, type, ... }` over postMessage. Only a parent whose origin the broker allows
// (`GET /v1/embed-config`, the list behind its frame-ancestors) may drive it; events go to that
// origin only, never `*`. Events are derived from the store's snapshots, so the call code stays
// the app's.
import {
  type EmbedCommand,
  type EmbedConfig,
  type EmbedEvent,
  type EmbedPeer,
  parentAllowed,
  parseCommand,
} from '../embed/protocol.ts';
import type { CallSnapshot, CallStore } from './call-store.ts';

type EventBody = EmbedEvent extends infer E ? (E extends EmbedEvent ? Omit<E, 'usher'> : never) : never;

export interface EmbedWindow {
  readonly parent: EmbedWindow | Window;
  readonly location: Pick<Location, 'origin' | 'search'> & { ancestorOrigins?: DOMStringList };
  readonly document: { referrer: string };
  addEventListener(type: 'message', listener: (event: MessageEvent) => void): void;
  removeEventListener(type: 'message', listener: (event: MessageEvent) => void): void;
  postMessage(message: unknown, targetOrigin: string): void;
}

/**
 * The framing page's origin, or null when there is none we can trust: not framed, or the
 * `parent` the helper put in the URL is not who actually frames us.
 */
export function parentOriginOf(win: EmbedWindow): string | null {
  if ((win.parent as unknown) === win) return null;
  const claimed = new URLSearchParams(win.location.search).get('parent');
  const ancestors = win.location.ancestorOrigins;
  let actual: string | null = ancestors !== undefined && ancestors.length > 0 ? ancestors[0]! : null;
  if (actual === null && win.document.referrer !== '') {
    try {
      actual = new URL(win.document.referrer).origin;
    } catch {
      actual = null;
    }
  }
  if (actual === null) return claimed;
  return claimed === null || claimed === actual ? actual : null;
}

/** What a command does to the call; `join` is the app's own join-from-the-URL. */
export interface EmbedActions {
  join(): void;
}

export class EmbedBridge {
  readonly #win: EmbedWindow;
  readonly #store: CallStore;
  readonly #parentOrigin: string;
  readonly #actions: EmbedActions;
  #last: CallSnapshot;
  #lastCamera = '';
  #unsubscribe: (() => void) | null = null;

  constructor(win: EmbedWindow, store: CallStore, parentOrigin: string, actions: EmbedActions) {
    this.#win = win;
    this.#store = store;
    this.#parentOrigin = parentOrigin;
    this.#actions = actions;
    this.#last = store.getSnapshot();
  }

  start(): void {
    this.#win.addEventListener('message', this.#onMessage);
    this.#unsubscribe = this.#store.subscribe(() => this.#onSnapshot(this.#store.getSnapshot()));
    this.#post({ type: 'ready' });
    // A join that started before the bridge (autojoin) is reported like any other.
    this.#onSnapshot(this.#store.getSnapshot(), true);
  }

  stop(): void {
    this.#win.removeEventListener('message', this.#onMessage);
    this.#unsubscribe?.();
    this.#unsubscribe = null;
  }

  readonly #onMessage = (event: MessageEvent): void => {
    // Only the framing page itself, from the origin we checked: not a sibling frame, not a popup.
    if (event.source !== (this.#win.parent as unknown) || event.origin !== this.#parentOrigin) return;
    const command = parseCommand(event.data);
    if (command !== null) void this.#run(command);
  };

  async #run(command: EmbedCommand): Promise<void> {
    const store = this.#store;
    switch (command.type) {
      case 'join':
        this.#actions.join();
        return;
      case 'leave':
        store.leave();
        return;
      case 'mute':
      case 'unmute': {
        const on = command.type === 'unmute';
        if (command.kind === 'audio') store.setMicOn(on);
        else await store.setCamera(on ? this.#lastCamera : null);
        return;
      }
      case 'toggleScreenShare':
        await store.toggleScreenShare();
        return;
      case 'setToken':
        store.setToken(command.token);
        return;
    }
  }

  #onSnapshot(now: CallSnapshot, initial = false): void {
    const last = initial
      ? { ...now, phase: 'prejoin' as const, peers: [], banner: null, media: null }
      : this.#last;
    this.#last = now;
    if (now.media?.cameraId) this.#lastCamera = now.media.cameraId;
    if (now.phase === 'call' && last.phase !== 'call')
      this.#post({ type: 'joined', room: now.room, peerId: now.peerId, serverId: now.serverId });
    if (now.phase === 'ended' && last.phase !== 'ended') {
      this.#post({ type: 'error', code: now.error?.code ?? 'INTERNAL', message: now.error?.text ?? '' });
      this.#post({ type: 'left', reason: 'error' });
    }
    if (now.phase === 'prejoin' && (last.phase === 'call' || last.phase === 'joining'))
      this.#post({ type: 'left', reason: 'leave' });
    this.#diffPeers(last, now);
    if (now.banner !== last.banner) {
      if (now.banner?.kind === 'reconnecting' && last.banner?.kind !== 'reconnecting')
        this.#post({ type: 'reconnecting', reason: now.banner.reason });
      if (now.banner?.kind === 'moved') {
        const { from, to, detectedAt, rejoinedAt } = now.banner.record;
        this.#post({ type: 'moved', from, to, detectedAt, rejoinedAt });
      }
    }
    const m = now.media;
    const p = last.media;
    if (
      m !== null &&
      (p === null || m.micOn !== p.micOn || m.cameraOn !== p.cameraOn || m.sharing !== p.sharing)
    )
      this.#post({ type: 'muted', audio: !m.micOn, video: !m.cameraOn, sharing: m.sharing });
  }

  #diffPeers(last: CallSnapshot, now: CallSnapshot): void {
    if (last.peers === now.peers) return;
    const before = new Map<string, EmbedPeer>(
      last.peers.map((p) => [p.peerId, { id: p.peerId, name: p.name }]),
    );
    const after = new Map<string, EmbedPeer>(
      now.peers.map((p) => [p.peerId, { id: p.peerId, name: p.name }]),
    );
    for (const [id, peer] of after) if (!before.has(id)) this.#post({ type: 'peer-joined', peer });
    for (const [id, peer] of before) if (!after.has(id)) this.#post({ type: 'peer-left', peer });
  }

  #post(body: EventBody): void {
    this.#win.parent.postMessage({ usher: 1, ...body }, this.#parentOrigin);
  }
}

/**
 * Starts the bridge when the page is framed by a parent the broker allows; otherwise nothing
 * listens and nothing is posted (the call still works inside the frame by hand).
 */
export async function startEmbedBridge(
  win: EmbedWindow,
  store: CallStore,
  actions: EmbedActions,
  fetchConfig: () => Promise<EmbedConfig> = () => fetchEmbedConfig(win.location.origin),
): Promise<EmbedBridge | null> {
  const parent = parentOriginOf(win);
  if (parent === null) return null;
  let config: EmbedConfig;
  try {
    config = await fetchConfig();
  } catch {
    return null;
  }
  if (!parentAllowed(parent, win.location.origin, config)) {
    console.warn(
      `[usher] embed: ${parent} is not an allowed origin (--allowed-origins); commands are ignored`,
    );
    return null;
  }
  const bridge = new EmbedBridge(win, store, parent, actions);
  bridge.start();
  return bridge;
}

async function fetchEmbedConfig(origin: string): Promise<EmbedConfig> {
  const response = await fetch(`${origin}/v1/embed-config`);
  const body = (await response.json()) as Partial<EmbedConfig>;
  if (!response.ok || !Array.isArray(body.frameAncestors))
    throw new Error(`embed-config: HTTP ${response.status}`);
  return { frameAncestors: body.frameAncestors.filter((o): o is string => typeof o === 'string') };
}
