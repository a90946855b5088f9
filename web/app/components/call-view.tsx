// The call: a tile grid that fits 1–6 people, the control bar (always on screen), and a side
// panel with the people, the chat and the settings (devices, music, connection details).
import { type ChangeEvent, useEffect, useId, useState } from 'react';
import { qualityText } from '../call-metrics.ts';
import type { CallSnapshot, CallStore } from '../call-store.ts';
import type { MediaDevicesList } from '../local-media.ts';
import { Banner } from './banner.tsx';
import { ChatBox } from './chat-box.tsx';
import { DeviceSelect } from './device-select.tsx';
import { Icon } from './icons.tsx';
import { StatusPanel } from './status-panel.tsx';
import { VideoTile } from './video-tile.tsx';

type Panel = 'people' | 'chat' | 'settings' | null;

interface Props {
  call: CallSnapshot;
  store: CallStore;
  inviteUrl: string;
  onLeave(): void;
}

/** Keys that work anywhere in the call but inside a text field. Shown in the help panel. */
export const SHORTCUTS: ReadonlyArray<{ key: string; what: string }> = [
  { key: 'M', what: 'Mute or unmute your microphone' },
  { key: 'V', what: 'Turn your camera off or on' },
  { key: 'S', what: 'Share your screen, or stop' },
  { key: 'C', what: 'Open or close the chat' },
  { key: 'P', what: 'Open or close the list of people' },
  { key: 'I', what: 'Copy the invite link' },
  { key: '?', what: 'Show or hide this help' },
  { key: 'Esc', what: 'Close the open panel' },
];

export function CallView({ call, store, inviteUrl, onLeave }: Props) {
  const [panel, setPanel] = useState<Panel>(null);
  const [help, setHelp] = useState(false);
  const [toast, setToast] = useState('');
  const [devices, setDevices] = useState<MediaDevicesList>({ mics: [], cameras: [] });
  const [lastCamera, setLastCamera] = useState<string>('');
  const [seenChat, setSeenChat] = useState(0);
  const media = call.media;
  const micOn = media?.micOn ?? false;
  const cameraOn = media?.cameraOn ?? false;
  const sharing = media?.sharing ?? false;

  // Re-read the list when a device opens: labels and new devices appear after permission.
  const opened = `${media?.cameraId}|${media?.micId}`;
  useEffect(() => {
    if (opened !== '') void store.media?.devices().then(setDevices);
  }, [store, opened]);
  useEffect(() => {
    if (media?.cameraId) setLastCamera(media.cameraId);
  }, [media?.cameraId]);
  useEffect(() => {
    if (panel === 'chat') setSeenChat(call.chat.length);
  }, [panel, call.chat.length]);
  useEffect(() => {
    if (toast === '') return;
    const timer = setTimeout(() => setToast(''), 3000);
    return () => clearTimeout(timer);
  }, [toast]);

  const toggle = (which: Exclude<Panel, null>) => setPanel((p) => (p === which ? null : which));
  const toggleMic = () => {
    if (media?.hasMic) store.setMicOn(!micOn);
    else void store.setMic('');
  };
  const toggleCamera = () => void store.setCamera(cameraOn ? null : lastCamera);
  const share = () => void store.toggleScreenShare();
  const copyInvite = async () => {
    try {
      await navigator.clipboard.writeText(inviteUrl);
      setToast('Invite link copied');
    } catch {
      setToast(`Copy this link: ${inviteUrl}`);
    }
  };

  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (event.ctrlKey || event.metaKey || event.altKey) return;
      const target = event.target as HTMLElement | null;
      if (target?.closest('input, textarea, select, [contenteditable="true"]')) {
        if (event.key === 'Escape') target.blur();
        return;
      }
      const key = event.key.toLowerCase();
      const actions: Record<string, () => void> = {
        m: toggleMic,
        v: toggleCamera,
        s: share,
        c: () => toggle('chat'),
        p: () => toggle('people'),
        i: () => void copyInvite(),
        '?': () => setHelp((h) => !h),
        escape: () => {
          setHelp(false);
          setPanel(null);
        },
      };
      const action = actions[key];
      if (action === undefined) return;
      event.preventDefault();
      action();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  });

  const count = call.peers.length + 1;
  const unread = call.chat.length - seenChat;
  return (
    <div className={`call${panel === null ? '' : ' call-with-panel'}`}>
      <p className="room-label" data-testid="room-label">
        {call.roomName}
      </p>
      <Banner banner={call.banner} waiting={call.waiting} onDismiss={() => store.dismissBanner()} />
      <section className="tiles" data-count={Math.min(count, 6)} aria-label="People in the call">
        <VideoTile
          stream={media?.preview ?? null}
          showVideo={media?.preview != null}
          mirror={!sharing}
          label={`${call.name || 'You'} (you)`}
          local
          micOn={micOn}
          sharing={sharing}
          speaking={call.selfSpeaking}
        />
        {call.peers.map((peer) => (
          <VideoTile
            key={peer.peerId}
            peerId={peer.peerId}
            stream={peer.stream}
            showVideo={peer.media?.camera !== false || peer.media.sharing}
            label={peer.name || 'Guest'}
            detail={peer.present && peer.connectionState === 'connected' ? undefined : 'connecting…'}
            micOn={peer.media?.mic ?? null}
            sharing={peer.media?.sharing ?? false}
            speaking={peer.speaking}
            quality={peer.quality}
          />
        ))}
      </section>

      {panel !== null && (
        <aside
          className="panel"
          aria-label={panel === 'people' ? 'People' : panel === 'chat' ? 'Chat' : 'Settings'}
        >
          <div className="panel-head">
            <h2>{panel === 'people' ? `People (${count})` : panel === 'chat' ? 'Chat' : 'Settings'}</h2>
            <button
              type="button"
              className="ghost small"
              onClick={() => setPanel(null)}
              aria-label="Close panel"
            >
              ✕
            </button>
          </div>
          {panel === 'people' && <People call={call} />}
          {panel === 'chat' && <ChatBox lines={call.chat} onSend={(text) => store.sendChat(text)} />}
          {panel === 'settings' && <Settings call={call} store={store} devices={devices} />}
        </aside>
      )}
      {/* Kept in the page while the panel is closed: the chat history and the connection facts. */}
      {panel !== 'settings' && (
        <div hidden>
          <StatusPanel call={call} />
        </div>
      )}

      <nav className="controls" aria-label="Call controls">
        <button
          type="button"
          className={`control${micOn ? '' : ' off'}`}
          aria-pressed={!micOn}
          aria-keyshortcuts="M"
          title="Microphone (M)"
          data-testid="toggle-mic"
          onClick={toggleMic}
        >
          <span aria-hidden="true">
            <Icon name="mic" off={!micOn} />
          </span>
          <span className="control-text">{micOn ? 'Mute' : 'Unmute'}</span>
        </button>
        <button
          type="button"
          className={`control${cameraOn ? '' : ' off'}`}
          aria-pressed={!cameraOn}
          aria-keyshortcuts="V"
          title="Camera (V)"
          data-testid="toggle-camera"
          onClick={toggleCamera}
        >
          <span aria-hidden="true">
            <Icon name="camera" off={!cameraOn} />
          </span>
          <span className="control-text">{cameraOn ? 'Stop camera' : 'Start camera'}</span>
        </button>
        <button
          type="button"
          className={`control${sharing ? ' active' : ''}`}
          aria-pressed={sharing}
          aria-keyshortcuts="S"
          title="Screen share (S)"
          data-testid="toggle-screen"
          onClick={share}
        >
          <span aria-hidden="true">
            <Icon name="screen" />
          </span>
          <span className="control-text">{sharing ? 'Stop sharing' : 'Share screen'}</span>
        </button>
        <button
          type="button"
          className={`control${panel === 'people' ? ' active' : ''}`}
          aria-pressed={panel === 'people'}
          aria-keyshortcuts="P"
          title="People (P)"
          data-testid="toggle-people"
          onClick={() => toggle('people')}
        >
          <span aria-hidden="true">
            <Icon name="people" />
          </span>
          <span className="control-text">People ({count})</span>
        </button>
        <button
          type="button"
          className={`control${panel === 'chat' ? ' active' : ''}`}
          aria-pressed={panel === 'chat'}
          aria-keyshortcuts="C"
          title="Chat (C)"
          data-testid="toggle-chat"
          onClick={() => toggle('chat')}
        >
          <span aria-hidden="true">
            <Icon name="chat" />
          </span>
          <span className="control-text">Chat{unread > 0 && panel !== 'chat' ? ` (${unread})` : ''}</span>
        </button>
        <button
          type="button"
          className="control"
          aria-keyshortcuts="I"
          title="Copy invite link (I)"
          data-testid="copy-invite"
          onClick={() => void copyInvite()}
        >
          <span aria-hidden="true">
            <Icon name="link" />
          </span>
          <span className="control-text">Invite</span>
        </button>
        <button
          type="button"
          className={`control${panel === 'settings' ? ' active' : ''}`}
          aria-pressed={panel === 'settings'}
          title="Devices, music, connection details"
          data-testid="toggle-settings"
          onClick={() => toggle('settings')}
        >
          <span aria-hidden="true">
            <Icon name="more" />
          </span>
          <span className="control-text">More</span>
        </button>
        <button
          type="button"
          className="control"
          aria-keyshortcuts="?"
          title="Keyboard shortcuts (?)"
          data-testid="toggle-help"
          onClick={() => setHelp((h) => !h)}
        >
          <span aria-hidden="true">
            <Icon name="keys" />
          </span>
          <span className="control-text">Shortcuts</span>
        </button>
        <button
          type="button"
          className="control leave"
          title="Leave the call"
          data-testid="leave-button"
          onClick={onLeave}
        >
          <span aria-hidden="true">
            <Icon name="leave" />
          </span>
          <span className="control-text">Leave</span>
        </button>
      </nav>
      <p className="toast" role="status" aria-live="polite" data-testid="toast">
        {toast}
      </p>
      {help && <HelpPanel onClose={() => setHelp(false)} />}
    </div>
  );
}

function People({ call }: { call: CallSnapshot }) {
  return (
    <ul className="people" data-testid="people-list">
      <li data-mic={call.media?.micOn ? 'on' : 'off'}>
        <span className="person-name">{call.name || 'You'} (you)</span>
        <span className="person-state">
          {call.media?.micOn ? 'mic on' : 'muted'}
          {call.media?.sharing ? ' · sharing' : ''}
        </span>
      </li>
      {call.peers.map((peer) => (
        <li
          key={peer.peerId}
          data-peer-id={peer.peerId}
          data-mic={peer.media === null ? 'unknown' : peer.media.mic ? 'on' : 'off'}
        >
          <span className="person-name">
            {peer.speaking && <span className="speaking-dot" role="img" aria-label="speaking" />}
            {peer.name || 'Guest'}
          </span>
          <span className="person-state">
            {peer.media === null ? '…' : peer.media.mic ? 'mic on' : 'muted'}
            {peer.media?.camera === false ? ' · camera off' : ''}
            {peer.media?.sharing ? ' · sharing' : ''}
            {peer.media?.music ? ` · playing “${peer.media.music}”` : ''}
          </span>
          <span className="person-quality">{qualityText(peer.quality)}</span>
        </li>
      ))}
    </ul>
  );
}

function Settings({
  call,
  store,
  devices,
}: {
  call: CallSnapshot;
  store: CallStore;
  devices: MediaDevicesList;
}) {
  const media = call.media;
  const fileId = useId();
  const pick = (event: ChangeEvent<HTMLInputElement>) => {
    const file = event.target.files?.[0];
    if (file !== undefined) void store.playMusic(file);
    event.target.value = '';
  };
  return (
    <div className="settings">
      <DeviceSelect
        label="Microphone"
        noneLabel="No microphone"
        devices={devices.mics}
        value={media?.micId ?? null}
        onChange={(id) => void store.setMic(id)}
        testId="call-mic"
      />
      <DeviceSelect
        label="Camera"
        noneLabel="No camera"
        devices={devices.cameras}
        value={media?.cameraOn ? (media.cameraId ?? '') : null}
        onChange={(id) => void store.setCamera(id)}
        testId="call-camera"
      />
      {media?.notice != null && (
        <p className="notice" data-testid="media-notice">
          {media.notice}
        </p>
      )}
      <div className="field">
        <label htmlFor={fileId}>Share music with everyone</label>
        <input id={fileId} type="file" accept="audio/*" data-testid="music-file" onChange={pick} />
        {media?.music != null && (
          <p className="row" data-testid="music-playing">
            <span>Playing “{media.music}”</span>
            <button type="button" className="small" onClick={() => store.stopMusic()}>
              Stop music
            </button>
          </p>
        )}
      </div>
      <StatusPanel call={call} />
    </div>
  );
}

function HelpPanel({ onClose }: { onClose(): void }) {
  return (
    <div
      className="help"
      role="dialog"
      aria-modal="false"
      aria-labelledby="help-title"
      data-testid="help-panel"
    >
      <div className="panel-head">
        <h2 id="help-title">Keyboard shortcuts</h2>
        <button type="button" className="ghost small" onClick={onClose} aria-label="Close keyboard shortcuts">
          ✕
        </button>
      </div>
      <dl>
        {SHORTCUTS.map((s) => (
          <div key={s.key} className="shortcut">
            <dt>
              <kbd>{s.key}</kbd>
            </dt>
            <dd>{s.what}</dd>
          </div>
        ))}
      </dl>
      <p className="muted">Tab moves between controls; Enter or Space presses one.</p>
    </div>
  );
}
