// The call: local and remote video tiles, the chat, and the Leave button.
import type { CallSnapshot } from '../call-store.ts';
import { ChatBox } from './chat-box.tsx';
import { VideoTile } from './video-tile.tsx';

interface Props {
  call: CallSnapshot;
  onLeave(): void;
  onChat(text: string): void;
}

export function CallView({ call, onLeave, onChat }: Props) {
  return (
    <div className="call">
      <div className="call-toolbar">
        {call.mediaNotice !== null && (
          <p className="notice" data-testid="media-notice">
            {call.mediaNotice}
          </p>
        )}
        <button type="button" className="leave" data-testid="leave-button" onClick={onLeave}>
          Leave
        </button>
      </div>
      <div className="tiles">
        <VideoTile stream={call.localStream} label={`${call.name || 'You'} (you)`} local />
        {call.peers.map((peer) => (
          <VideoTile
            key={peer.peerId}
            peerId={peer.peerId}
            stream={peer.stream}
            label={peer.name || peer.peerId.slice(0, 8)}
            detail={peer.present ? peer.connectionState : `${peer.connectionState} · away`}
          />
        ))}
      </div>
      <ChatBox lines={call.chat} onSend={onChat} />
    </div>
  );
}
