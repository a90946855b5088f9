// The banner that tells the user what the SDK is doing about a lost server: reconnecting
// (and why), then where the call moved and how long it took.
import type { Banner } from '../call-store.ts';
import { movedText, reconnectingText } from '../format.ts';

export function FailoverBanner({ banner }: { banner: Banner }) {
  if (banner === null) return null;
  const reconnecting = banner.kind === 'reconnecting';
  return (
    <div
      className={`banner ${reconnecting ? 'banner-warn' : 'banner-ok'}`}
      role="status"
      data-testid="failover-banner"
    >
      {reconnecting ? reconnectingText(banner.from, banner.reason) : movedText(banner.record)}
    </div>
  );
}
