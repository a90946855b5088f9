// Top level: the pre-join page, then joining (or waiting for a server), the call, or why it
// ended. The URL follows the call, so a reload or a shared link lands in the same room.
import { useEffect, useState } from 'react';
import type { CallStore } from './call-store.ts';
import { EndedPanel, JoiningPanel } from './components/banner.tsx';
import { CallView } from './components/call-view.tsx';
import { type JoinRequest, PreJoin } from './components/pre-join.tsx';
import { type AppConfig, callUrl, inviteUrl } from './config.ts';
import { canonicalRoomId } from './room-name.ts';
import { useCall } from './use-call.ts';

const STORED = { name: 'usher.name', mic: 'usher.micId', camera: 'usher.cameraId' } as const;
const NONE = 'none';

function stored(key: string): string | null {
  try {
    return window.localStorage.getItem(key);
  } catch {
    return null; // Storage blocked (private mode, sandboxed iframe): nothing remembered.
  }
}

function store(key: string, value: string): void {
  try {
    window.localStorage.setItem(key, value);
  } catch {
    // As above: the choice just is not remembered.
  }
}

function storedDevice(key: string): string | null {
  const value = stored(key);
  return value === NONE ? null : (value ?? '');
}

/** Joins the room and name of the page's URL, with the default devices (autojoin, the embed's `join`). */
export function joinFromUrl(calls: CallStore, config: AppConfig): void {
  const mapped = canonicalRoomId(config.room);
  if (!mapped.ok) return;
  void calls.join(mapped.id, mapped.name, config.name, { micId: '', cameraId: '' });
}

export function App({ store: calls, config }: { store: CallStore; config: AppConfig }) {
  const call = useCall(calls);
  const [last, setLast] = useState<JoinRequest | null>(null);

  const join = (request: JoinRequest) => {
    setLast(request);
    store(STORED.name, request.name);
    store(STORED.mic, request.micId ?? NONE);
    store(STORED.camera, request.cameraId ?? NONE);
    window.history.replaceState(null, '', callUrl(window.location.href, request.roomName, request.name));
    void calls.join(request.room, request.roomName, request.name, {
      micId: request.micId,
      cameraId: request.cameraId,
    });
  };

  useEffect(() => {
    // The store ignores a second join while one is active (StrictMode runs effects twice).
    if (!config.autojoin) return;
    const mapped = canonicalRoomId(config.room);
    if (!mapped.ok) return;
    setLast({ room: mapped.id, roomName: mapped.name, name: config.name, micId: '', cameraId: '' });
    joinFromUrl(calls, config);
  }, [calls, config]);

  useEffect(() => {
    document.title =
      call.phase === 'call' ? `${call.roomName} — Usher` : 'Usher — calls that survive their server';
  }, [call.phase, call.roomName]);

  return (
    <div className={`app app-${call.phase}${config.embed ? ' app-embed' : ''}`}>
      {call.phase !== 'call' && !config.embed && (
        <header className="app-header">
          <span className="brand">Usher</span>
        </header>
      )}
      {call.phase === 'call' && (
        <>
          <h1 className="sr-only">Call in {call.roomName}</h1>
          <CallView
            call={call}
            store={calls}
            inviteUrl={inviteUrl(window.location.href, call.roomName)}
            onLeave={() => calls.leave()}
          />
        </>
      )}
      {call.phase !== 'call' && (
        <main className="app-main">
          {call.phase === 'prejoin' && (
            <PreJoin
              store={calls}
              media={call.media}
              initialRoom={call.roomName || config.room}
              initialName={call.name || config.name || (stored(STORED.name) ?? '')}
              initialMicId={storedDevice(STORED.mic)}
              initialCameraId={storedDevice(STORED.camera)}
              error={null}
              onJoin={join}
            />
          )}
          {call.phase === 'joining' && (
            <JoiningPanel roomName={call.roomName} waiting={call.waiting} onCancel={() => calls.leave()} />
          )}
          {call.phase === 'ended' && (
            <EndedPanel
              text={call.error?.text ?? 'The call ended.'}
              onRetry={() => last !== null && join(last)}
              onBack={() => calls.dismissError()}
            />
          )}
        </main>
      )}
    </div>
  );
}
