// Top level: the join form until a call starts, then the call; the status panel always.
import { useEffect } from 'react';
import type { CallStore } from './call-store.ts';
import { CallView } from './components/call-view.tsx';
import { FailoverBanner } from './components/failover-banner.tsx';
import { JoinForm } from './components/join-form.tsx';
import { StatusPanel } from './components/status-panel.tsx';
import type { AppConfig } from './config.ts';
import { useCall } from './use-call.ts';

export function App({ store, config }: { store: CallStore; config: AppConfig }) {
  const call = useCall(store);

  useEffect(() => {
    // The store ignores a second join while one is active (StrictMode runs effects twice).
    if (config.autojoin) void store.join(config.room, config.name);
  }, [store, config]);

  const inCall = call.state !== 'idle' && call.state !== 'closed';
  return (
    <div className="app">
      <header className="app-header">
        <h1>Usher</h1>
        {inCall && <span className="room-name">room {call.room}</span>}
      </header>
      <FailoverBanner banner={call.banner} />
      <main className="app-main">
        <section className="stage">
          {inCall ? (
            <CallView call={call} onLeave={() => store.leave()} onChat={(text) => store.sendChat(text)} />
          ) : (
            <JoinForm
              initialRoom={call.room || config.room}
              initialName={call.name || config.name}
              error={call.error}
              onJoin={(room, name) => void store.join(room, name)}
            />
          )}
        </section>
        <StatusPanel call={call} />
      </main>
    </div>
  );
}
