// The pre-join page: room and name (from the link, then remembered), a camera preview, the
// choice of microphone and camera (or none), and Join. Nothing is sent before Join.
import { type FormEvent, useEffect, useId, useRef, useState } from 'react';
import type { CallStore } from '../call-store.ts';
import { INSECURE_NOTICE, LocalMedia, type LocalMediaState, type MediaDevicesList } from '../local-media.ts';
import { canonicalRoomId } from '../room-name.ts';
import { DeviceSelect } from './device-select.tsx';

export interface JoinRequest {
  room: string;
  roomName: string;
  name: string;
  micId: string | null;
  cameraId: string | null;
}

interface Props {
  store: CallStore;
  media: LocalMediaState | null;
  initialRoom: string;
  initialName: string;
  initialMicId: string | null;
  initialCameraId: string | null;
  error: string | null;
  onJoin(request: JoinRequest): void;
}

export function PreJoin({
  store,
  media,
  initialRoom,
  initialName,
  initialMicId,
  initialCameraId,
  error,
  onJoin,
}: Props) {
  const [room, setRoom] = useState(initialRoom);
  const [name, setName] = useState(initialName);
  const [micId, setMicId] = useState<string | null>(initialMicId);
  const [cameraId, setCameraId] = useState<string | null>(initialCameraId);
  const [devices, setDevices] = useState<MediaDevicesList>({ mics: [], cameras: [] });
  const [roomError, setRoomError] = useState<string | null>(null);
  const video = useRef<HTMLVideoElement>(null);
  const roomId = useId();
  const nameId = useId();
  const secure = LocalMedia.secure();

  // The preview follows the choice; device labels appear once the browser granted access.
  useEffect(() => {
    if (!secure) return;
    let live = true;
    void store.preview({ micId, cameraId }).then(async (m) => {
      const list = await m.devices();
      if (live) setDevices(list);
    });
    return () => {
      live = false;
    };
  }, [store, micId, cameraId, secure]);

  const preview = media?.preview ?? null;
  useEffect(() => {
    const element = video.current;
    if (element !== null && element.srcObject !== preview) {
      element.srcObject = preview;
      if (preview !== null) void element.play().catch(() => undefined);
    }
  }, [preview]);

  const mapped = canonicalRoomId(room);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (!mapped.ok) {
      setRoomError(mapped.reason);
      return;
    }
    setRoomError(null);
    onJoin({ room: mapped.id, roomName: mapped.name, name: name.trim().slice(0, 64), micId, cameraId });
  };

  return (
    <form className="prejoin card" onSubmit={submit} aria-labelledby="prejoin-title" noValidate>
      <h1 id="prejoin-title">Join a call</h1>
      <div className="prejoin-preview" data-testid="preview">
        <video
          ref={video}
          autoPlay
          playsInline
          muted
          className="mirror"
          hidden={preview === null}
          aria-label="Your camera preview"
        />
        {preview === null && (
          <p className="preview-off">{cameraId === null ? 'Camera off' : 'No camera picture'}</p>
        )}
      </div>
      <div className="prejoin-fields">
        {!secure && (
          <p className="notice" role="alert" data-testid="insecure-notice">
            {INSECURE_NOTICE}
          </p>
        )}
        <div className="field">
          <label htmlFor={roomId}>Room</label>
          <input
            id={roomId}
            data-testid="join-room"
            value={room}
            onChange={(e) => setRoom(e.target.value)}
            aria-describedby={`${roomId}-hint`}
            aria-invalid={roomError !== null}
            autoComplete="off"
          />
          <small id={`${roomId}-hint`} className="hint" data-testid="room-hint">
            {roomError ?? (mapped.ok ? 'Anyone with the same room name joins you.' : mapped.reason)}
          </small>
        </div>
        <div className="field">
          <label htmlFor={nameId}>Your name</label>
          <input
            id={nameId}
            data-testid="join-name"
            value={name}
            onChange={(e) => setName(e.target.value)}
            maxLength={64}
            autoComplete="nickname"
            placeholder="How others see you"
          />
        </div>
        {secure && (
          <>
            <DeviceSelect
              label="Microphone"
              noneLabel="No microphone"
              devices={devices.mics}
              value={micId}
              onChange={setMicId}
              testId="join-mic"
            />
            <DeviceSelect
              label="Camera"
              noneLabel="No camera"
              devices={devices.cameras}
              value={cameraId}
              onChange={setCameraId}
              testId="join-camera"
            />
          </>
        )}
        {media?.notice != null && secure && (
          <p className="notice" data-testid="media-notice">
            {media.notice}
          </p>
        )}
        <button type="submit" className="primary" data-testid="join-button">
          Join
        </button>
        {error !== null && (
          <p className="error" role="alert" data-testid="join-error">
            {error}
          </p>
        )}
      </div>
    </form>
  );
}
