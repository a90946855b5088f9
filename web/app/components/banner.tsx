// What the SDK is doing about a lost server, in plain words: reconnecting (and why), waiting
// for a server (with a countdown), then "moved" with how long it took, which goes by itself.
import { useEffect, useState } from 'react';
import type { Banner as BannerState, Waiting } from '../call-store.ts';
import { movedText, reconnectingText, waitingText } from '../format.ts';

export function useCountdown(until: number | null): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    if (until === null) return;
    const timer = setInterval(() => setNow(Date.now()), 250);
    return () => clearInterval(timer);
  }, [until]);
  return until === null ? 0 : Math.max(0, until - now);
}

export function Banner({
  banner,
  waiting,
  onDismiss,
}: {
  banner: BannerState;
  waiting: Waiting | null;
  onDismiss(): void;
}) {
  const left = useCountdown(waiting?.until ?? null);
  if (banner === null) return null;
  const reconnecting = banner.kind === 'reconnecting';
  return (
    <div
      className={`banner ${reconnecting ? 'banner-warn' : 'banner-ok'}`}
      role="status"
      data-testid="failover-banner"
      data-kind={banner.kind}
      data-server-id={banner.kind === 'moved' ? banner.record.to : undefined}
    >
      <span>
        {reconnecting ? reconnectingText(banner.reason) : movedText(banner.record)}
        {reconnecting && waiting !== null && ` ${waitingText(left)}.`}
      </span>
      {!reconnecting && (
        <button type="button" className="ghost small" onClick={onDismiss} aria-label="Dismiss">
          ✕
        </button>
      )}
    </div>
  );
}

/** Before the first join: joining, or waiting for a server with Cancel. */
export function JoiningPanel({
  roomName,
  waiting,
  onCancel,
}: {
  roomName: string;
  waiting: Waiting | null;
  onCancel(): void;
}) {
  const left = useCountdown(waiting?.until ?? null);
  return (
    <section className="card joining" aria-labelledby="joining-title" data-testid="joining">
      <h1 id="joining-title">Joining “{roomName}”…</h1>
      <p role="status" data-testid="joining-status">
        {waiting === null ? 'Connecting to the call.' : waitingText(left)}
      </p>
      {waiting?.reason != null && <p className="muted">{waiting.reason}</p>}
      <button type="button" data-testid="cancel-join" onClick={onCancel}>
        Cancel
      </button>
    </section>
  );
}

/** The call ended or could not start: what to do, and Retry. */
export function EndedPanel({ text, onRetry, onBack }: { text: string; onRetry(): void; onBack(): void }) {
  return (
    <section className="card joining" aria-labelledby="ended-title" data-testid="ended">
      <h1 id="ended-title">Not in the call</h1>
      <p role="alert" data-testid="join-error">
        {text}
      </p>
      <div className="row">
        <button type="button" className="primary" data-testid="retry-button" onClick={onRetry}>
          Retry
        </button>
        <button type="button" onClick={onBack}>
          Change room or devices
        </button>
      </div>
    </section>
  );
}
