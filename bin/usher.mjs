#!/usr/bin/env node
// Entry point of the `usher` command. In a compiled tree (`npm run build:server` copies this
// file to dist/app/bin/, next to dist/app/server/cli.js) it runs the JavaScript with no
// loader, so production needs no TypeScript tooling. In the repository it registers the
// TypeScript loader (tsx, a devDependency) and runs the sources as they are, with no build step.
import { existsSync } from 'node:fs';

const compiled = new URL('../server/cli.js', import.meta.url);
let entry = compiled;
if (!existsSync(compiled)) {
  const { register } = await import('tsx/esm/api');
  register();
  entry = new URL('../server/cli.ts', import.meta.url);
}
const { main } = await import(entry.href);
process.exitCode = await main(process.argv.slice(2));
