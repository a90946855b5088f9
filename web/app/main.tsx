// Entry point: read the URL, create the one CallStore, expose the debug hooks, render.
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App, joinFromUrl } from './app.tsx';
import { CallStore } from './call-store.ts';
import { readConfig } from './config.ts';
import { installDebugApi } from './debug.ts';
import { type EmbedWindow, startEmbedBridge } from './embed-bridge.ts';
import './styles.css';

const config = readConfig(window.location);
const store = new CallStore(config.brokerUrl, { iceTransportPolicy: config.iceTransportPolicy });
installDebugApi(window, store);
if (config.token !== null) store.setToken(config.token);
// In an iframe of an allowed site: the site drives the call over postMessage (docs/EMBED.md).
if (config.embed)
  void startEmbedBridge(window as unknown as EmbedWindow, store, { join: () => joinFromUrl(store, config) });
// Browsers keep audio (the outgoing mix, the speaking meters) suspended until the person
// interacts; a page opened from a link that joins by itself gets going at the first click or key.
for (const type of ['pointerdown', 'keydown'] as const) {
  window.addEventListener(type, () => store.media?.resume(), { capture: true });
}

const root = document.getElementById('root');
if (root !== null) {
  createRoot(root).render(
    <StrictMode>
      <App store={store} config={config} />
    </StrictMode>,
  );
}
