// The host-side helper for the iframe embed, served at /embed/v1/usher-embed.js (a classic
// script that also works as a module): `new UsherEmbed({ broker, room, name, parent })` makes the
// iframe with the media permissions it needs and wraps the postMessage API with typed events.
import type { EmbedCommand, EmbedEvent, EmbedEventType, MediaKind } from './protocol.ts';

export interface UsherEmbedOptions {
  /** The broker's (and app's) URL, e.g. `https://usher.example.com`. */
  broker: string;
  room: string;
  name?: string;
  /** Element (or CSS selector) the iframe goes into. */
  parent: HTMLElement | string;
  /** A join token from your backend; sent over postMessage (never in the URL) before joining. */
  token?: string;
  /** Join as soon as the frame is ready (default true); false: call `join()` yourself. */
  autojoin?: boolean;
  /** CSS width/height of the iframe (default 100% × 100%: size the parent). */
  width?: string;
  height?: string;
}

type Listener<T extends EmbedEventType> = (event: Extract<EmbedEvent, { type: T }>) => void;
type Command = EmbedCommand extends infer C ? (C extends EmbedCommand ? Omit<C, 'usher'> : never) : never;

export class UsherEmbed {
  readonly iframe: HTMLIFrameElement;
  readonly #origin: string;
  readonly #listeners = new Map<string, Set<(event: EmbedEvent) => void>>();
  #queue: Command[] | null = [];

  constructor(options: UsherEmbedOptions) {
    const base = new URL(options.broker, location.href);
    this.#origin = base.origin;
    const src = new URL('/embed', base);
    src.searchParams.set('room', options.room);
    if (options.name) src.searchParams.set('name', options.name);
    src.searchParams.set('autojoin', '0');
    src.searchParams.set('parent', location.origin);
    const parent =
      typeof options.parent === 'string'
        ? document.querySelector<HTMLElement>(options.parent)
        : options.parent;
    if (parent === null) throw new TypeError(`UsherEmbed: no element ${String(options.parent)}`);
    const iframe = document.createElement('iframe');
    iframe.src = src.toString();
    iframe.allow = 'camera; microphone; display-capture';
    iframe.title = `Call: ${options.room}`;
    iframe.style.cssText = `border:0;display:block;width:${options.width ?? '100%'};height:${options.height ?? '100%'}`;
    this.iframe = iframe;
    if (options.token) this.#queue?.push({ type: 'setToken', token: options.token });
    if (options.autojoin !== false) this.#queue?.push({ type: 'join' });
    addEventListener('message', this.#onMessage);
    parent.append(iframe);
  }

  /** Listens to an event of the call; returns the function that stops listening. */
  on<T extends EmbedEventType>(type: T, listener: Listener<T>): () => void {
    const set = this.#listeners.get(type) ?? new Set();
    this.#listeners.set(type, set);
    set.add(listener as (event: EmbedEvent) => void);
    return () => set.delete(listener as (event: EmbedEvent) => void);
  }

  join(): void {
    this.#send({ type: 'join' });
  }
  leave(): void {
    this.#send({ type: 'leave' });
  }
  mute(kind: MediaKind = 'audio'): void {
    this.#send({ type: 'mute', kind });
  }
  unmute(kind: MediaKind = 'audio'): void {
    this.#send({ type: 'unmute', kind });
  }
  toggleScreenShare(): void {
    this.#send({ type: 'toggleScreenShare' });
  }
  setToken(token: string): void {
    this.#send({ type: 'setToken', token });
  }

  /** Removes the iframe (which ends the call) and stops listening. */
  destroy(): void {
    removeEventListener('message', this.#onMessage);
    this.iframe.remove();
    this.#listeners.clear();
  }

  #send(command: Command): void {
    // Before `ready` the frame cannot hear us yet: commands wait, in order.
    if (this.#queue !== null) this.#queue.push(command);
    else this.iframe.contentWindow?.postMessage({ usher: 1, ...command }, this.#origin);
  }

  readonly #onMessage = (event: MessageEvent): void => {
    if (event.source !== this.iframe.contentWindow || event.origin !== this.#origin) return;
    const data = event.data as EmbedEvent | null;
    if (typeof data !== 'object' || data === null || data.usher !== 1 || typeof data.type !== 'string')
      return;
    if (data.type === 'ready' && this.#queue !== null) {
      const queued = this.#queue;
      this.#queue = null;
      for (const command of queued) this.#send(command);
    }
    for (const listener of this.#listeners.get(data.type) ?? []) listener(data);
  };
}

(globalThis as { UsherEmbed?: typeof UsherEmbed }).UsherEmbed = UsherEmbed;
