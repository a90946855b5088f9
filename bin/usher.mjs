#!/usr/bin/env node
// Entry point of the `usher` command: registers the TypeScript loader (tsx) and hands
// over to server/cli.ts, so the sources run as they are, with no build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../server/cli.ts');
process.exitCode = await main(process.argv.slice(2));
