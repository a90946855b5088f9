// Regenerates the reference section of docs/PROTOCOL.md from the schemas.
import { readFileSync, writeFileSync } from 'node:fs';
import { spliceReference } from '../shared/protocol/docs.ts';

const path = new URL('../docs/PROTOCOL.md', import.meta.url);
writeFileSync(path, spliceReference(readFileSync(path, 'utf8')));
console.log('docs/PROTOCOL.md reference regenerated');
