// Vite build of the React app (web/app → dist/web, served by the broker), followed by the
// embeddable widget and SDK bundles and the precompressed copies (scripts/embed-build.ts), and
// the dev server, which proxies the broker's API (session WebSocket included) to a local `usher`.
import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';
import { embedBundles } from './scripts/embed-build.ts';

const BROKER = 'http://127.0.0.1:8080';
const here = (path: string): string => fileURLToPath(new URL(path, import.meta.url));

export default defineConfig({
  root: here('./web/app'),
  plugins: [react(), embedBundles(here('./dist/web'))],
  build: {
    outDir: here('./dist/web'),
    emptyOutDir: true,
  },
  server: {
    proxy: {
      '/v1': { target: BROKER, ws: true, changeOrigin: false },
      '/healthz': { target: BROKER },
    },
  },
});
