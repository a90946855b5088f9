// One person's tile: their video (or their initial when there is none), name, mute and
// sharing state, a speaking ring and connection-quality bars. Remote audio plays through its
// own <audio>, so a blocked unmuted autoplay never stops the video.
import { useEffect, useRef } from 'react';
import { type PeerQuality, qualityText } from '../call-metrics.ts';

interface Props {
  stream: MediaStream | null;
  /** Show the video (false: the camera is off, show the initial). */
  showVideo: boolean;
  label: string;
  detail?: string | undefined;
  local?: boolean;
  peerId?: string;
  micOn: boolean | null;
  sharing: boolean;
  speaking: boolean;
  quality?: PeerQuality | undefined;
  /** Mirror the picture (our own camera, not a screen). */
  mirror?: boolean;
}

export function VideoTile(props: Props) {
  const {
    stream,
    showVideo,
    label,
    detail,
    local = false,
    peerId,
    micOn,
    sharing,
    speaking,
    quality,
  } = props;
  const video = useRef<HTMLVideoElement>(null);
  const audio = useRef<HTMLAudioElement>(null);

  useEffect(() => {
    for (const element of [video.current, audio.current]) {
      if (element === null) continue;
      if (element.srcObject !== stream) element.srcObject = stream;
      if (stream !== null) void element.play().catch(() => undefined);
    }
  }, [stream]);

  const hasVideo = showVideo && (stream?.getVideoTracks().length ?? 0) > 0;
  const bars = quality === undefined ? 0 : { good: 3, fair: 2, poor: 1, unknown: 0 }[quality.level];
  return (
    <figure
      className={`tile${local ? ' tile-local' : ''}${speaking ? ' tile-speaking' : ''}${sharing ? ' tile-screen' : ''}`}
      data-testid={local ? 'local-tile' : 'peer-tile'}
      data-peer-id={peerId}
      data-mic={micOn === null ? 'unknown' : micOn ? 'on' : 'off'}
      data-camera={hasVideo ? 'on' : 'off'}
      data-speaking={speaking ? 'yes' : 'no'}
      aria-label={`${label}${micOn === false ? ', muted' : ''}${sharing ? ', sharing screen' : ''}`}
    >
      <video
        ref={video}
        autoPlay
        playsInline
        muted
        className={props.mirror ? 'mirror' : undefined}
        hidden={!hasVideo}
      />
      {/* biome-ignore lint/a11y/useMediaCaption: a live call's audio has no caption track to offer. */}
      {!local && <audio ref={audio} autoPlay />}
      {!hasVideo && (
        <div className="tile-placeholder" aria-hidden="true">
          <span>{label.slice(0, 1).toUpperCase() || '?'}</span>
        </div>
      )}
      <figcaption>
        {micOn === false && (
          <span className="icon-muted" title="Microphone off" role="img" aria-label="Microphone off">
            <MicOffIcon />
          </span>
        )}
        <span className="tile-label">{label}</span>
        {sharing && <span className="tile-detail">sharing screen</span>}
        {detail !== undefined && <span className="tile-detail">{detail}</span>}
      </figcaption>
      {quality !== undefined && (
        <span
          className={`quality quality-${quality.level}`}
          role="img"
          aria-label={qualityText(quality)}
          title={qualityText(quality)}
          data-testid="peer-quality"
          data-level={quality.level}
        >
          {[1, 2, 3].map((n) => (
            <i key={n} className={n <= bars ? 'on' : undefined} />
          ))}
        </span>
      )}
    </figure>
  );
}

export function MicOffIcon() {
  return (
    <svg viewBox="0 0 24 24" width="16" height="16" aria-hidden="true" focusable="false">
      <path
        fill="currentColor"
        d="M12 14a3 3 0 0 0 3-3V5a3 3 0 0 0-6 0v6a3 3 0 0 0 3 3zm5-3a5 5 0 0 1-10 0H5a7 7 0 0 0 6 6.9V21h2v-3.1A7 7 0 0 0 19 11h-2z"
      />
      <path stroke="currentColor" strokeWidth="2" d="M3 3l18 18" />
    </svg>
  );
}
