// What this person sends: one outgoing MediaStream whose tracks never go away (so every peer
// connection keeps its audio and video senders), and what feeds them. Audio is a WebAudio mix
// (microphone through a mute gain, plus shared music); video is the camera, a screen share or a
// blank frame. Switching swaps tracks with RTCRtpSender.replaceTrack: no renegotiation.

export interface DeviceChoice {
  /** deviceId, '' for the browser's default, null for none. */
  micId: string | null;
  cameraId: string | null;
}

export interface MediaDevicesList {
  mics: MediaDeviceInfo[];
  cameras: MediaDeviceInfo[];
}

export interface LocalMediaState {
  micOn: boolean;
  /** A microphone is open (muted or not). */
  hasMic: boolean;
  cameraOn: boolean;
  sharing: boolean;
  /** File name of the music being shared into the call. */
  music: string | null;
  micId: string | null;
  cameraId: string | null;
  /** The local preview: whatever video goes out now (camera or screen); null when blank. */
  preview: MediaStream | null;
  /** Why something asked for is missing, in words for the person; null when all is well. */
  notice: string | null;
}

/** Why a secure context is needed, said once for the pre-join page and the notices. */
export const INSECURE_NOTICE =
  'Camera and microphone need a secure connection: open this page over HTTPS (or on localhost). ' +
  'Browsers only give a page your camera and microphone when nobody on the network can alter it. ' +
  'You can still join to watch, listen and chat.';

function mediaErrorText(error: unknown, what: string): string {
  const name = error instanceof Error ? error.name : '';
  if (name === 'NotAllowedError' || name === 'SecurityError')
    return `The browser was not allowed to use your ${what}. Allow it in the address bar, then turn it on again.`;
  if (name === 'NotFoundError' || name === 'OverconstrainedError') return `No ${what} was found.`;
  if (name === 'NotReadableError') return `Your ${what} is in use by another app, or not working.`;
  return `Your ${what} could not be started.`;
}

export class LocalMedia {
  readonly stream = new MediaStream();
  readonly audio: AudioContext;
  /** The mic after the mute gain: what the speaking indicator listens to. */
  readonly micLevel: GainNode;
  readonly #out: MediaStreamAudioDestinationNode;
  readonly #peers: () => RTCPeerConnection[];
  readonly #onChange: () => void;
  readonly #blank: MediaStreamTrack;
  readonly #blankTimer: ReturnType<typeof setInterval>;
  #mic: { stream: MediaStream; node: MediaStreamAudioSourceNode } | null = null;
  #camera: MediaStream | null = null;
  #screen: MediaStream | null = null;
  /** Bumped by every mic/camera request: an older request that resolves late must not win. */
  #micRequest = 0;
  #cameraRequest = 0;
  #music: { element: HTMLAudioElement; node: MediaElementAudioSourceNode; url: string } | null = null;
  #state: LocalMediaState = {
    micOn: false,
    hasMic: false,
    cameraOn: false,
    sharing: false,
    music: null,
    micId: null,
    cameraId: null,
    preview: null,
    notice: null,
  };

  /** `peers` lists the live peer connections whose senders follow our tracks. */
  constructor(peers: () => RTCPeerConnection[], onChange: () => void) {
    this.#peers = peers;
    this.#onChange = onChange;
    this.audio = new AudioContext();
    this.#out = this.audio.createMediaStreamDestination();
    this.micLevel = this.audio.createGain();
    this.micLevel.connect(this.#out);
    const canvas = document.createElement('canvas');
    canvas.width = 320;
    canvas.height = 180;
    const paint = canvas.getContext('2d');
    // A blank stream still needs frames now and then, or some receivers show a frozen last frame.
    const draw = (): void => {
      if (paint === null) return;
      paint.fillStyle = '#11151d';
      paint.fillRect(0, 0, canvas.width, canvas.height);
    };
    draw();
    this.#blankTimer = setInterval(draw, 500);
    this.#blank = canvas.captureStream(2).getVideoTracks()[0]!;
    const outAudio = this.#out.stream.getAudioTracks()[0]!;
    this.stream.addTrack(outAudio);
    this.stream.addTrack(this.#blank);
  }

  get state(): LocalMediaState {
    return this.#state;
  }

  static secure(): boolean {
    return typeof window === 'undefined' || window.isSecureContext !== false;
  }

  static available(): boolean {
    return LocalMedia.secure() && navigator.mediaDevices?.getUserMedia !== undefined;
  }

  async devices(): Promise<MediaDevicesList> {
    if (!LocalMedia.available()) return { mics: [], cameras: [] };
    const all = await navigator.mediaDevices.enumerateDevices();
    return {
      mics: all.filter((d) => d.kind === 'audioinput' && d.deviceId !== ''),
      cameras: all.filter((d) => d.kind === 'videoinput' && d.deviceId !== ''),
    };
  }

  /** Browsers start an AudioContext suspended until a click; call from one. */
  resume(): void {
    if (this.audio.state === 'suspended') void this.audio.resume().catch(() => undefined);
  }

  async apply(choice: DeviceChoice): Promise<void> {
    await Promise.all([this.openMic(choice.micId), this.openCamera(choice.cameraId)]);
  }

  async openMic(deviceId: string | null): Promise<void> {
    const request = ++this.#micRequest;
    this.#closeMic();
    if (deviceId === null) {
      this.#set({ hasMic: false, micOn: false, micId: null });
      return;
    }
    if (!LocalMedia.available()) {
      this.#set({
        hasMic: false,
        micOn: false,
        micId: null,
        notice: LocalMedia.secure() ? 'This browser cannot use a microphone.' : INSECURE_NOTICE,
      });
      return;
    }
    try {
      const audio: MediaTrackConstraints | boolean =
        deviceId === '' ? true : { deviceId: { exact: deviceId } };
      const stream = await navigator.mediaDevices.getUserMedia({ audio });
      if (request !== this.#micRequest) {
        for (const track of stream.getTracks()) track.stop();
        return;
      }
      this.#closeMic();
      const node = this.audio.createMediaStreamSource(stream);
      node.connect(this.micLevel);
      this.#mic = { stream, node };
      const id = stream.getAudioTracks()[0]?.getSettings().deviceId ?? deviceId;
      this.micLevel.gain.value = 1;
      this.#set({ hasMic: true, micOn: true, micId: id, notice: null });
    } catch (error) {
      if (request !== this.#micRequest) return;
      this.#set({ hasMic: false, micOn: false, micId: null, notice: mediaErrorText(error, 'microphone') });
    }
  }

  setMicOn(on: boolean): void {
    if (this.#mic === null) return;
    this.micLevel.gain.value = on ? 1 : 0;
    for (const track of this.#mic.stream.getAudioTracks()) track.enabled = on;
    this.#set({ micOn: on });
  }

  async openCamera(deviceId: string | null): Promise<void> {
    const request = ++this.#cameraRequest;
    if (deviceId === null) {
      this.#closeCamera();
      this.#set({ cameraOn: false, cameraId: null });
      await this.#sendVideo();
      return;
    }
    if (!LocalMedia.available()) {
      this.#set({ notice: LocalMedia.secure() ? 'This browser cannot use a camera.' : INSECURE_NOTICE });
      return;
    }
    try {
      const base = { width: { ideal: 640 }, height: { ideal: 360 } };
      const video = deviceId === '' ? base : { ...base, deviceId: { exact: deviceId } };
      const stream = await navigator.mediaDevices.getUserMedia({ video });
      if (request !== this.#cameraRequest) {
        for (const track of stream.getTracks()) track.stop();
        return;
      }
      this.#closeCamera();
      this.#camera = stream;
      const id = stream.getVideoTracks()[0]?.getSettings().deviceId ?? deviceId;
      this.#set({ cameraOn: true, cameraId: id, notice: null });
    } catch (error) {
      if (request !== this.#cameraRequest) return;
      this.#set({ notice: mediaErrorText(error, 'camera') });
    }
    await this.#sendVideo();
  }

  async startScreenShare(): Promise<void> {
    if (navigator.mediaDevices?.getDisplayMedia === undefined) {
      this.#set({ notice: 'This browser cannot share its screen.' });
      return;
    }
    try {
      const stream = await navigator.mediaDevices.getDisplayMedia({ video: true, audio: false });
      this.#stopScreen();
      this.#screen = stream;
      // The browser's own "Stop sharing" button ends the track.
      stream.getVideoTracks()[0]?.addEventListener('ended', () => void this.stopScreenShare());
      this.#set({ sharing: true, notice: null });
    } catch (error) {
      const name = error instanceof Error ? error.name : '';
      if (name !== 'NotAllowedError' && name !== 'AbortError')
        this.#set({ notice: 'Your screen could not be shared.' });
    }
    await this.#sendVideo();
  }

  async stopScreenShare(): Promise<void> {
    if (this.#screen === null) return;
    this.#stopScreen();
    this.#set({ sharing: false });
    await this.#sendVideo();
  }

  /** Plays `file` into the call (everyone hears it) and here. */
  async playMusic(file: File): Promise<void> {
    this.stopMusic();
    const url = URL.createObjectURL(file);
    const element = new Audio(url);
    element.loop = true;
    const node = this.audio.createMediaElementSource(element);
    node.connect(this.#out);
    node.connect(this.audio.destination);
    this.#music = { element, node, url };
    this.resume();
    try {
      await element.play();
      this.#set({ music: file.name, notice: null });
    } catch {
      this.stopMusic();
      this.#set({ notice: `“${file.name}” could not be played: is it an audio file?` });
    }
  }

  stopMusic(): void {
    const music = this.#music;
    if (music === null) return;
    this.#music = null;
    music.element.pause();
    music.node.disconnect();
    URL.revokeObjectURL(music.url);
    this.#set({ music: null });
  }

  clearNotice(): void {
    this.#set({ notice: null });
  }

  close(): void {
    // Requests still pending stop what they get when it comes.
    this.#micRequest += 1;
    this.#cameraRequest += 1;
    this.#closeMic();
    this.#closeCamera();
    this.#stopScreen();
    this.stopMusic();
    clearInterval(this.#blankTimer);
    for (const track of this.stream.getTracks()) track.stop();
    void this.audio.close().catch(() => undefined);
  }

  /** Puts the video that should go out now on the stream and on every sender. */
  async #sendVideo(): Promise<void> {
    const track =
      this.#screen?.getVideoTracks()[0] ??
      (this.#state.cameraOn ? this.#camera?.getVideoTracks()[0] : undefined) ??
      this.#blank;
    const old = this.stream.getVideoTracks()[0];
    if (old !== track) {
      if (old !== undefined) this.stream.removeTrack(old);
      this.stream.addTrack(track);
    }
    this.#set({ preview: track === this.#blank ? null : new MediaStream([track]) });
    const replacing: Promise<void>[] = [];
    for (const pc of this.#peers()) {
      if (pc.signalingState === 'closed') continue;
      for (const sender of pc.getSenders()) {
        if (sender.track?.kind === 'video' && sender.track !== track)
          replacing.push(sender.replaceTrack(track).catch(() => undefined));
      }
    }
    await Promise.all(replacing);
  }

  #closeMic(): void {
    if (this.#mic === null) return;
    this.#mic.node.disconnect();
    for (const track of this.#mic.stream.getTracks()) track.stop();
    this.#mic = null;
  }

  #closeCamera(): void {
    for (const track of this.#camera?.getTracks() ?? []) track.stop();
    this.#camera = null;
  }

  #stopScreen(): void {
    for (const track of this.#screen?.getTracks() ?? []) track.stop();
    this.#screen = null;
  }

  #set(patch: Partial<LocalMediaState>): void {
    this.#state = { ...this.#state, ...patch };
    this.#onChange();
  }
}
