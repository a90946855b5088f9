// docs/PROTOCOL.md against the code: its generated reference, every error code and every close code.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { CloseCode, ErrorCatalogue } from '../errors.ts';
import { spliceReference } from './docs.ts';

test('docs/PROTOCOL.md reference is generated from the current schemas (run npm run docs:protocol)', () => {
  const document = readFileSync(new URL('../../docs/PROTOCOL.md', import.meta.url), 'utf8');
  assert.equal(spliceReference(document), document);
});

test('every error code is documented in docs/PROTOCOL.md', () => {
  const document = readFileSync(new URL('../../docs/PROTOCOL.md', import.meta.url), 'utf8');
  for (const code of Object.keys(ErrorCatalogue)) assert.ok(document.includes(`\`${code}\``), code);
});

test('every close code a server may use is in the close-code table of docs/PROTOCOL.md', () => {
  const document = readFileSync(new URL('../../docs/PROTOCOL.md', import.meta.url), 'utf8');
  for (const [name, code] of Object.entries(CloseCode))
    assert.match(document, new RegExp(`^\\| ${code} \\|`, 'm'), `${name} (${code})`);
});
