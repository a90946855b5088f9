// <usher-call>: a whole call in one element for any page — join, video tiles, mute/camera/leave,
// participant list — on the SDK's UsherSession, in a Shadow DOM so page CSS and the widget leave
// each other alone. Attributes configure it; DOM events and methods let the page drive it.
import { html, LitElement, nothing, type PropertyValues, type TemplateResult } from 'lit';
import { UsherClientError } from '../sdk/errors.ts';
import type { MuteState, Participant } from '../sdk/participants.ts';
import type { FailoverRecord, FailoverStart, JoinInfo } from '../sdk/session.ts';
import { UsherSession } from '../sdk/session.ts';
import { brokerUrls } from './broker-urls.ts';
import { icons } from './icons.ts';
import { widgetStyles } from './styles.ts';

/** `on`: capture and send; `off`: capture but start muted (unmute works); `none`: never capture. */
export type MediaSetting = 'on' | 'off' | 'none';
export type ThemeSetting = 'light' | 'dark' | 'auto';
export type CallView = 'idle' | 'joining' | 'joined' | 'reconnecting' | 'left' | 'error';

/** The `detail` of each DOM event the element dispatches (all bubble and cross the shadow root). */
export interface UsherCallEventDetails {
  joined: JoinInfo;
  left: { reason: 'leave' | 'error' };
  'peer-joined': Participant;
  'peer-left': Participant;
  moved: FailoverRecord;
  reconnecting: FailoverStart;
  error: { code: string; message: string };
}

const TAG = 'usher-call';

/** Messages a person can act on for the codes an embedder most often meets. */
const HINTS: Readonly<Record<string, string>> = {
  FORBIDDEN_ORIGIN:
    'This site is not allowed to use this Usher broker. Its operator must add this origin to --allowed-origins.',
  BROKER_UNREACHABLE: 'The call service cannot be reached.',
  GAVE_UP: 'The call service did not answer in time.',
  NO_SERVER_AVAILABLE: 'No call server is available right now.',
};

function mediaSetting(value: string | null | undefined): MediaSetting {
  return value === 'off' || value === 'none' ? value : 'on';
}

export class UsherCallElement extends LitElement {
  static override properties = {
    broker: { type: String },
    room: { type: String },
    name: { type: String },
    token: { type: String },
    audio: { type: String },
    video: { type: String },
    theme: { type: String, reflect: true },
    autojoin: { type: Boolean },
  };

  static override styles = widgetStyles;

  /** One broker URL or a comma-separated list tried in order (http(s):// or ws(s)://; the
   *  session path is added when missing). Defaults to the origin the script came from. */
  declare broker: string;
  declare room: string;
  declare name: string;
  /** Join token from your backend (docs/INTEGRATION.md); required by a broker in token mode. */
  declare token: string;
  declare audio: string;
  declare video: string;
  declare theme: ThemeSetting;
  /** Join as soon as the element is on the page (otherwise a Join button, or call join()). */
  declare autojoin: boolean;

  #session: UsherSession | null = null;
  #stream: MediaStream | null = null;
  #view: CallView = 'idle';
  #error: { code: string; message: string } | null = null;
  #notice: string | null = null;
  #participants: Participant[] = [];
  #muted: MuteState = { audio: false, video: false };
  #showList = false;
  #typedName = '';

  constructor() {
    super();
    this.broker = '';
    this.room = '';
    this.name = '';
    this.token = '';
    this.audio = 'on';
    this.video = 'on';
    this.theme = 'auto';
    this.autojoin = false;
  }

  /** Where the call is: idle, joining, joined, reconnecting, left or error. */
  get state(): CallView {
    return this.#view;
  }

  /** The remote participants (one entry per peer). */
  get participants(): Participant[] {
    return [...this.#participants];
  }

  get muted(): MuteState {
    return { ...this.#muted };
  }

  /** The underlying SDK session while in a call (for what the element does not expose). */
  get session(): UsherSession | null {
    return this.#session;
  }

  override connectedCallback(): void {
    super.connectedCallback();
    if (this.autojoin && this.#view === 'idle') void this.join().catch(() => undefined);
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    // Removed from the page: the call ends with it.
    if (this.#session !== null) this.leave();
  }

  /** Get camera/microphone as the attributes say and join the room. Rejects with the
   *  UsherClientError that also went out as an `error` event. */
  async join(): Promise<void> {
    if (this.#view === 'joining' || this.#view === 'joined' || this.#view === 'reconnecting') return;
    const room = this.room.trim();
    const brokers = brokerUrls(this.broker, this.#scriptOrigin());
    if (room === '' || brokers.length === 0) {
      const error = new UsherClientError(
        'INVALID_STATE',
        'set the room and broker attributes before joining',
      );
      this.#fail(error);
      throw error;
    }
    this.#error = null;
    this.#notice = null;
    this.#setView('joining');
    const audio = mediaSetting(this.audio);
    const video = mediaSetting(this.video);
    this.#stream = await this.#capture(audio !== 'none', video !== 'none');
    const name = (this.name || this.#typedName).trim();
    const session = new UsherSession({
      brokerUrls: brokers,
      room,
      ...(name === '' ? {} : { name }),
      ...(this.token === '' ? {} : { token: this.token }),
      localStream: this.#stream,
    });
    this.#session = session;
    this.#wire(session);
    if (audio === 'off' || video === 'off')
      session.setMuted({ audio: audio === 'off', video: video === 'off' });
    this.#muted = session.muted;
    try {
      await session.join();
    } catch (error) {
      if (this.#session !== session) return; // Left meanwhile.
      const failure = UsherClientError.from(error);
      this.#fail(failure);
      throw failure;
    }
  }

  /** Leave the call and release camera and microphone; join() may be called again. */
  leave(): void {
    const session = this.#session;
    if (session === null) return;
    this.#session = null;
    session.leave();
    this.#release();
    this.#participants = [];
    this.#setView('left');
    this.#dispatch('left', { reason: 'leave' });
  }

  /** Mute the microphone (default) or turn the camera off; the other peers see it. */
  mute(kind: 'audio' | 'video' = 'audio'): void {
    this.#setMuted(kind, true);
  }

  unmute(kind: 'audio' | 'video' = 'audio'): void {
    this.#setMuted(kind, false);
  }

  toggleAudio(): void {
    this.#setMuted('audio', !this.#muted.audio);
  }

  toggleVideo(): void {
    this.#setMuted('video', !this.#muted.video);
  }

  /** Show or hide the participant list. */
  toggleParticipants(): void {
    this.#showList = !this.#showList;
    this.requestUpdate();
  }

  #setMuted(kind: 'audio' | 'video', muted: boolean): void {
    if (this.#session === null) return;
    this.#muted = this.#session.setMuted({ [kind]: muted });
    this.requestUpdate();
  }

  #wire(session: UsherSession): void {
    const mine = (): boolean => this.#session === session;
    session.on('joined', (info) => {
      if (!mine()) return;
      this.#setView('joined');
      this.#dispatch('joined', info);
    });
    session.on('failover-start', (event) => {
      if (!mine()) return;
      this.#setView('reconnecting');
      this.#dispatch('reconnecting', event);
    });
    session.on('failover', (record) => mine() && this.#dispatch('moved', record));
    const refresh = (): void => {
      if (!mine()) return;
      this.#participants = session.participants();
      this.requestUpdate();
    };
    session.on('participant-joined', (participant) => {
      refresh();
      if (mine()) this.#dispatch('peer-joined', participant);
    });
    session.on('participant-left', (participant) => {
      refresh();
      if (mine()) this.#dispatch('peer-left', participant);
    });
    session.on('participant-updated', refresh);
    session.on('error', (error) => {
      if (!mine()) return;
      this.#session = null;
      this.#release();
      this.#fail(error);
      this.#dispatch('left', { reason: 'error' });
    });
  }

  #fail(error: UsherClientError): void {
    this.#error = { code: error.code, message: error.message };
    if (this.#session !== null) {
      this.#session.leave();
      this.#session = null;
    }
    this.#release();
    this.#setView('error');
    this.#dispatch('error', { ...this.#error });
  }

  async #capture(audio: boolean, video: boolean): Promise<MediaStream | null> {
    if (!audio && !video) return null;
    const devices = globalThis.navigator?.mediaDevices;
    if (devices?.getUserMedia === undefined) {
      this.#notice = 'No camera or microphone here: joined to watch and listen.';
      return null;
    }
    try {
      return await devices.getUserMedia({ audio, video: video ? { width: 640, height: 360 } : false });
    } catch (error) {
      const reason = error instanceof Error ? error.name : 'unknown error';
      this.#notice = `Camera/microphone unavailable (${reason}): joined to watch and listen.`;
      return null;
    }
  }

  #release(): void {
    for (const track of this.#stream?.getTracks() ?? []) track.stop();
    this.#stream = null;
  }

  #setView(view: CallView): void {
    this.#view = view;
    this.requestUpdate();
  }

  #dispatch<K extends keyof UsherCallEventDetails>(type: K, detail: UsherCallEventDetails[K]): void {
    this.dispatchEvent(new CustomEvent(type, { detail, bubbles: true, composed: true }));
  }

  /** The origin this element's script was loaded from: the broker that serves it. */
  #scriptOrigin(): string | null {
    return scriptOrigin;
  }

  protected override updated(_changed: PropertyValues): void {
    // Streams are properties, not attributes: set them on the video elements after each render.
    for (const video of this.renderRoot.querySelectorAll<HTMLVideoElement>('video[data-peer]')) {
      const id = video.dataset.peer ?? '';
      const stream =
        id === 'self' ? this.#stream : (this.#participants.find((p) => p.id === id)?.stream ?? null);
      if (video.srcObject !== stream) video.srcObject = stream;
    }
  }

  protected override render(): TemplateResult {
    return html`<div class="root" part="root" data-view=${this.#view}>
      ${this.#view === 'joined' || this.#view === 'reconnecting' ? this.#renderCall() : this.#renderLobby()}
    </div>`;
  }

  #renderLobby(): TemplateResult {
    const joining = this.#view === 'joining';
    return html`<div class="lobby">
      <div class="title"><span class="logo">${icons.logo}</span><span>${this.room || 'Usher call'}</span></div>
      ${
        this.#error === null
          ? nothing
          : html`<div class="error" role="alert" data-code=${this.#error.code}>
            <strong>${this.#error.code}</strong>
            <span>${HINTS[this.#error.code] ?? this.#error.message}</span>
          </div>`
      }
      ${this.#view === 'left' ? html`<p class="muted-text">You left the call.</p>` : nothing}
      ${
        this.name === ''
          ? html`<input
            class="name"
            aria-label="Your name"
            placeholder="Your name"
            maxlength="64"
            .value=${this.#typedName}
            @input=${(event: Event) => {
              this.#typedName = (event.target as HTMLInputElement).value;
            }}
          />`
          : nothing
      }
      <button class="primary" ?disabled=${joining} @click=${() => void this.join().catch(() => undefined)}>
        ${joining ? 'Joining…' : this.#view === 'idle' ? 'Join call' : 'Join again'}
      </button>
    </div>`;
  }

  #renderCall(): TemplateResult {
    const count = this.#participants.length + 1;
    return html`<div class="call">
      <div class="bar">
        <span class="title"><span class="logo">${icons.logo}</span><span class="room">${this.room}</span></span>
        <span class="status ${this.#view}" role="status">${this.#view === 'reconnecting' ? 'Reconnecting…' : 'Live'}</span>
      </div>
      ${this.#notice === null ? nothing : html`<div class="notice">${this.#notice}</div>`}
      <div class="stage">
        <div class="grid" data-count=${Math.min(count, 4)}>
          ${this.#renderTile('self', `${this.name || this.#typedName || 'You'} (you)`, this.#muted, true)}
          ${this.#participants.map((p) =>
            this.#renderTile(p.id, p.name || 'Guest', { audio: p.audioMuted, video: p.videoMuted }, false, p),
          )}
        </div>
        ${this.#showList ? this.#renderList() : nothing}
      </div>
      <div class="controls" role="toolbar" aria-label="Call controls">
        <button class="ctl ${this.#muted.audio ? 'off' : ''}" aria-pressed=${this.#muted.audio}
          aria-label=${this.#muted.audio ? 'Unmute microphone' : 'Mute microphone'} title="Microphone"
          @click=${() => this.toggleAudio()}>${this.#muted.audio ? icons.micOff : icons.mic}</button>
        <button class="ctl ${this.#muted.video ? 'off' : ''}" aria-pressed=${this.#muted.video}
          aria-label=${this.#muted.video ? 'Turn camera on' : 'Turn camera off'} title="Camera"
          @click=${() => this.toggleVideo()}>${this.#muted.video ? icons.camOff : icons.cam}</button>
        <button class="ctl ${this.#showList ? 'active' : ''}" aria-pressed=${this.#showList}
          aria-label="Participants" title="Participants" @click=${() => this.toggleParticipants()}>
          ${icons.people}<span class="count">${count}</span></button>
        <button class="ctl leave" aria-label="Leave call" title="Leave" @click=${() => this.leave()}>
          ${icons.leave}</button>
      </div>
    </div>`;
  }

  #renderTile(id: string, label: string, muted: MuteState, self: boolean, p?: Participant): TemplateResult {
    return html`<figure class="tile" data-tile=${id}>
      <video data-peer=${id} autoplay playsinline ?muted=${self} .muted=${self}></video>
      ${muted.video ? html`<div class="avatar">${initials(label)}</div>` : nothing}
      <figcaption>
        ${muted.audio ? html`<span class="mic-off" title="Muted">${icons.micOff}</span>` : nothing}
        <span class="label">${label}</span>
        ${p?.quality == null ? nothing : html`<span class="q ${p.quality.level}" title="Connection: ${p.quality.level}"></span>`}
      </figcaption>
    </figure>`;
  }

  #renderList(): TemplateResult {
    return html`<ul class="people" aria-label="Participants">
      <li><span>${this.name || this.#typedName || 'You'} (you)</span>${this.#muted.audio ? icons.micOff : nothing}</li>
      ${this.#participants.map(
        (p) => html`<li data-participant=${p.id}>
          <span>${p.name || 'Guest'}</span>
          ${p.audioMuted ? icons.micOff : nothing}
          ${p.quality === null ? nothing : html`<span class="q ${p.quality.level}" title=${qualityTitle(p)}></span>`}
        </li>`,
      )}
    </ul>`;
  }
}

function initials(label: string): string {
  return label
    .replace(/\(you\)/, '')
    .trim()
    .split(/\s+/)
    .slice(0, 2)
    .map((word) => word[0]?.toUpperCase() ?? '')
    .join('');
}

function qualityTitle(p: Participant): string {
  const q = p.quality;
  if (q === null) return '';
  const parts = [`${q.level}`];
  if (q.rttMs !== null) parts.push(`${q.rttMs} ms`);
  if (q.packetLoss !== null) parts.push(`${(q.packetLoss * 100).toFixed(1)} % loss`);
  if (q.bitrateIn !== null) parts.push(`${Math.round(q.bitrateIn / 1000)} kbit/s in`);
  return parts.join(', ');
}

/** Captured while the script runs: `document.currentScript` is only set then (classic scripts);
 *  an ES module gets its own URL. */
const scriptOrigin: string | null = (() => {
  try {
    const current = globalThis.document?.currentScript as HTMLScriptElement | null | undefined;
    if (current?.src) return new URL(current.src).origin;
    return new URL(import.meta.url).origin;
  } catch {
    return null;
  }
})();

export { brokerUrls };

if (globalThis.customElements !== undefined && customElements.get(TAG) === undefined) {
  customElements.define(TAG, UsherCallElement);
}

declare global {
  interface HTMLElementTagNameMap {
    [TAG]: UsherCallElement;
  }
}
