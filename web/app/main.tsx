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

const root = document.getElementById('root');
if (root !== null) {
  createRoot(root).render(
    <StrictMode>
      <App store={store} config={config} />
    </StrictMode>,
  );
}
