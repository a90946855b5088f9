// The broker serves the built web app (index.html fallback for browser routes) and the
// embeddable bundles: precompressed variants, a cache policy per kind of file, CORS for the
// bundles, and JSON 404s — never the app's HTML — for mistyped script paths.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, type TestContext, test } from 'node:test';
import { brotliCompressSync, brotliDecompressSync, gzipSync } from 'node:zlib';
import { CACHE_CONTROL } from './static-site.ts';
import { startBroker } from './testing/harness.ts';

const HTML = { accept: 'text/html,application/xhtml+xml' };

function site(t: TestContext, files: Record<string, string | Buffer>): string {
  const dir = mkdtempSync(join(tmpdir(), 'usher-static-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  for (const [path, body] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), body);
  }
  return dir;
}

/** A raw GET (fetch would decode the body and hide Content-Encoding). */
function get(
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

describe('static web app', () => {
  test('serves the built app with an index.html fallback for browser routes', async (t) => {
    const dir = site(t, { 'index.html': '<!doctype html><title>usher</title>', 'app.js': 'console.log(1)' });
    const tb = await startBroker(t, { staticDir: dir });
    assert.match(await (await fetch(tb.http('/'), { headers: HTML })).text(), /<title>usher/);
    assert.equal(await (await fetch(tb.http('/app.js'))).text(), 'console.log(1)');
    const deep = await fetch(tb.http('/rooms/lobby'), { headers: HTML });
    assert.equal(deep.status, 200);
    assert.match(await deep.text(), /<title>usher/);
    const api = await fetch(tb.http('/v1/nope'), { headers: HTML });
    assert.deepEqual([api.status, ((await api.json()) as { code: string }).code], [404, 'NOT_FOUND']);
    const asset = await fetch(tb.http('/missing.js'));
    assert.equal(asset.status, 404);
  });

  test('a missing static dir is skipped', async (t) => {
    const tb = await startBroker(t, { staticDir: join(tmpdir(), 'usher-no-such-dir') });
    assert.equal((await fetch(tb.http('/'), { headers: { accept: 'text/html' } })).status, 404);
  });

  test('precompressed variants by Accept-Encoding; hashed assets immutable, the page no-cache', async (t) => {
    const script = `export const big = ${JSON.stringify('usher '.repeat(400))};`;
    const dir = site(t, {
      'index.html': '<!doctype html><title>usher</title>',
      'assets/index-Ab3dE_f9.js': script,
      'assets/index-Ab3dE_f9.js.br': brotliCompressSync(script),
      'assets/index-Ab3dE_f9.js.gz': gzipSync(script),
    });
    const tb = await startBroker(t, { staticDir: dir });
    const br = await get(tb.http('/assets/index-Ab3dE_f9.js'), { 'accept-encoding': 'gzip, br' });
    assert.equal(br.status, 200);
    assert.equal(br.headers['content-encoding'], 'br');
    assert.match(String(br.headers['content-type']), /javascript/);
    assert.equal(brotliDecompressSync(br.body).toString(), script);
    assert.equal(br.headers['cache-control'], CACHE_CONTROL.hashed);
    assert.match(String(br.headers.vary), /accept-encoding/i);
    const gz = await get(tb.http('/assets/index-Ab3dE_f9.js'), { 'accept-encoding': 'gzip' });
    assert.equal(gz.headers['content-encoding'], 'gzip');
    const plain = await get(tb.http('/assets/index-Ab3dE_f9.js'));
    assert.equal(plain.headers['content-encoding'], undefined);
    assert.equal(plain.body.toString(), script);
    for (const path of ['/', '/index.html', '/rooms/lobby']) {
      const page = await get(tb.http(path), HTML);
      assert.deepEqual([path, page.status, page.headers['cache-control']], [path, 200, CACHE_CONTROL.page]);
    }
  });

  test('the embed bundles: JavaScript with CORS and a revalidated cache; wrong paths are JSON 404s', async (t) => {
    const dir = site(t, {
      'index.html': '<!doctype html><title>usher</title>',
      'widget/v1/usher-call.js': 'export {};',
      'widget/v1/usher-call.iife.js': '(function(){})();',
      'sdk/v1/usher.js': 'export {};',
      'embed/v1/usher-embed.js': '(function(){})();',
    });
    const tb = await startBroker(t, { staticDir: dir });
    for (const path of [
      '/widget/v1/usher-call.js',
      '/widget/v1/usher-call.iife.js',
      '/sdk/v1/usher.js',
      '/embed/v1/usher-embed.js',
    ]) {
      const res = await get(tb.http(path), { origin: 'https://customer.example' });
      assert.equal(res.status, 200, path);
      assert.match(String(res.headers['content-type']), /^(application|text)\/javascript/, path);
      assert.equal(res.headers['access-control-allow-origin'], '*', path);
      assert.equal(res.headers['cross-origin-resource-policy'], 'cross-origin', path);
      assert.equal(res.headers['cache-control'], CACHE_CONTROL.embed, path);
    }
    // A browser asking for HTML (a navigation) or a script: never the app's page.
    for (const path of [
      '/widget/v2/usher-call.js',
      '/widget/v1/',
      '/sdk/v1/nope.js',
      '/embed/v1/nope.js',
      '/embed/v1/',
      '/widget.js',
      '/sdk.js',
      '/x/y.css',
    ]) {
      const res = await get(tb.http(path), HTML);
      assert.equal(res.status, 404, path);
      assert.match(String(res.headers['content-type']), /^application\/json/, path);
      assert.equal((JSON.parse(res.body.toString()) as { code: string }).code, 'NOT_FOUND', path);
    }
    // The app's embed mode is the app's page.
    const embed = await get(tb.http('/embed?room=r&name=Ada'), HTML);
    assert.equal(embed.status, 200);
    assert.match(embed.body.toString(), /<title>usher<\/title>/);
  });
});
