import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { ErrorCatalogue } from '../errors.ts';
import { spliceReference } from './docs.ts';

test('docs/PROTOCOL.md reference is generated from the current schemas (run npm run docs:protocol)', () => {
  const document = readFileSync(new URL('../../docs/PROTOCOL.md', import.meta.url), 'utf8');
  assert.equal(spliceReference(document), document);
});

test('every error code is documented in docs/PROTOCOL.md', () => {
  const document = readFileSync(new URL('../../docs/PROTOCOL.md', import.meta.url), 'utf8');
  for (const code of Object.keys(ErrorCatalogue)) assert.ok(document.includes(`\`${code}\``), code);
});
