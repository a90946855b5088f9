// Entry point: read the URL, create the one CallStore, expose the debug hooks, render.
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './app.tsx';
import { CallStore } from './call-store.ts';
import { readConfig } from './config.ts';
import { installDebugApi } from './debug.ts';
import './styles.css';

const config = readConfig(window.location);
const store = new CallStore(config.brokerUrl, { iceTransportPolicy: config.iceTransportPolicy });
installDebugApi(window, store);
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
