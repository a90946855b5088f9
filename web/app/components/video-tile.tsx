// One video tile: a stream in a <video>, with a label. Remote audio plays through its own
// <audio>, so a blocked unmuted autoplay never stops the video.
import { useEffect, useRef } from 'react';

interface Props {
  stream: MediaStream | null;
  label: string;
  detail?: string;
  local?: boolean;
  peerId?: string;
}

export function VideoTile({ stream, label, detail, local = false, peerId }: Props) {
  const video = useRef<HTMLVideoElement>(null);
  const audio = useRef<HTMLAudioElement>(null);

  useEffect(() => {
    for (const element of [video.current, audio.current]) {
      if (element === null) continue;
      if (element.srcObject !== stream) element.srcObject = stream;
      if (stream !== null) void element.play().catch(() => undefined);
    }
  }, [stream]);

  const hasVideo = (stream?.getVideoTracks().length ?? 0) > 0;
  return (
    <figure
      className={`tile${local ? ' tile-local' : ''}`}
      data-testid={local ? 'local-tile' : 'peer-tile'}
      data-peer-id={peerId}
    >
      <video ref={video} autoPlay playsInline muted />
      {/* biome-ignore lint/a11y/useMediaCaption: a live call's audio has no caption track to offer. */}
      {!local && <audio ref={audio} autoPlay />}
      {!hasVideo && <div className="tile-placeholder">{label.slice(0, 1).toUpperCase() || '?'}</div>}
      <figcaption>
        <span className="tile-label">{label}</span>
        {detail !== undefined && <span className="tile-detail">{detail}</span>}
      </figcaption>
    </figure>
  );
}
