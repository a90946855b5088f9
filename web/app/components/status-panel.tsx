// Connection facts for the curious (and the e2e tests): session state, the media server,
// ping RTT, our address as the broker saw it. Each value has a data-testid.
import type { CallSnapshot } from '../call-store.ts';
import { rttText } from '../format.ts';

function Row({ label, testId, value }: { label: string; testId: string; value: string | null }) {
  return (
    <div className="status-row">
      <dt>{label}</dt>
      <dd data-testid={testId}>{value ?? '—'}</dd>
    </div>
  );
}

export function StatusPanel({ call }: { call: CallSnapshot }) {
  return (
    <details className="status" aria-label="Connection details">
      <summary>Connection details</summary>
      <dl>
        <div className="status-row">
          <dt>State</dt>
          <dd>
            <span className={`state state-${call.state}`} data-testid="status-state">
              {call.state}
            </span>
          </dd>
        </div>
        <Row label="Room id" testId="status-room" value={call.room} />
        <Row label="Server" testId="status-server-id" value={call.serverId} />
        <Row label="Server URL" testId="status-server-url" value={call.serverUrl} />
        <Row label="RTT" testId="status-rtt" value={rttText(call.rttMs)} />
        <Row label="Your address" testId="status-address" value={call.address} />
        <Row label="Peer id" testId="status-peer-id" value={call.peerId} />
        <Row label="Peers" testId="status-peer-count" value={String(call.peers.length)} />
      </dl>
    </details>
  );
}
