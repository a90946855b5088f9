// The broker serves the built web app, with an index.html fallback for browser routes.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { startBroker } from './testing/harness.ts';

describe('static web app', () => {
  test('serves the built app with an index.html fallback for browser routes', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'usher-static-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'index.html'), '<!doctype html><title>usher</title>');
    writeFileSync(join(dir, 'app.js'), 'console.log(1)');
    const tb = await startBroker(t, { staticDir: dir });
    const html = { accept: 'text/html,application/xhtml+xml' };
    assert.match(await (await fetch(tb.http('/'), { headers: html })).text(), /<title>usher/);
    assert.equal(await (await fetch(tb.http('/app.js'))).text(), 'console.log(1)');
    const deep = await fetch(tb.http('/rooms/lobby'), { headers: html });
    assert.equal(deep.status, 200);
    assert.match(await deep.text(), /<title>usher/);
    const api = await fetch(tb.http('/v1/nope'), { headers: html });
    assert.deepEqual([api.status, ((await api.json()) as { code: string }).code], [404, 'NOT_FOUND']);
    const asset = await fetch(tb.http('/missing.js'));
    assert.equal(asset.status, 404);
  });

  test('a missing static dir is skipped', async (t) => {
    const tb = await startBroker(t, { staticDir: join(tmpdir(), 'usher-no-such-dir') });
    assert.equal((await fetch(tb.http('/'), { headers: { accept: 'text/html' } })).status, 404);
  });
});
