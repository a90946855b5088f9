// The SDK package's bundle: web/sdk as one ES module with no runtime dependencies
// (the same build the broker serves at /sdk/v1/usher.js).
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import { sdkConfig } from '../../scripts/embed-build.ts';

const { configFile: _configFile, ...config } = sdkConfig(fileURLToPath(new URL('./dist', import.meta.url)));

export default defineConfig({ ...config, build: { ...config.build, emptyOutDir: true } });
