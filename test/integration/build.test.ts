// The production build (`npm run build:server`): compiled JavaScript that runs with no
// TypeScript loader, a broker and a media server from it serving a session, and no
// runtime import of a devDependency.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createJoinToken } from '../../server/sdk/index.ts';
import { freePort } from '../../shared/testing/free-port.ts';
import { waitUntil } from '../../shared/testing/wait.ts';
import { FleetProcess, httpStatus } from './testing/fleet-processes.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const SECRET = 'build-test-secret-0123456789';

function compiledFiles(dir: string, out: string[] = []): string[] {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory() && entry.name !== 'dist') compiledFiles(path, out);
    else if (entry.name.endsWith('.js')) out.push(path);
  }
  return out;
}

test('build:server compiles the product to JavaScript that serves a session without tsx', async (t) => {
  const scratch = mkdtempSync(join(tmpdir(), 'usher-build-'));
  t.after(() => rmSync(scratch, { recursive: true, force: true }));
  // The compiled tree resolves packages like the image does: node_modules and a package.json
  // ("type": "module") above it.
  symlinkSync(join(root, 'node_modules'), join(scratch, 'node_modules'), 'dir');
  writeFileSync(join(scratch, 'package.json'), readFileSync(join(root, 'package.json')));
  const out = join(scratch, 'app');
  const build = spawnSync(process.execPath, [join(root, 'scripts', 'build-server.mjs'), '--out', out], {
    cwd: root,
    encoding: 'utf8',
    timeout: 120_000,
  });
  assert.equal(build.status, 0, build.stdout + build.stderr);

  const files = compiledFiles(out);
  assert.ok(files.some((f) => f.endsWith(join('server', 'cli.js'))));
  assert.ok(files.some((f) => f.endsWith(join('web', 'sdk', 'index.js'))));
  assert.deepEqual(
    files.filter((f) => f.endsWith('.test.js') || f.includes(`${join('/', 'testing', '/')}`)),
    [],
    'no test or testing file is shipped',
  );
  const devDependencies = Object.keys(
    (
      JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
        devDependencies: Record<string, string>;
      }
    ).devDependencies,
  );
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    assert.doesNotMatch(text, /from '\.{1,2}\/[^']*\.ts'/, `${file} imports a .ts file`);
    for (const name of devDependencies)
      assert.ok(
        !text.includes(`from '${name}'`) && !text.includes(`from '${name}/`),
        `${file} imports ${name}`,
      );
  }

  const bin = join(out, 'bin', 'usher.mjs');
  // --import nothing: a tsx registration would show as the loader being needed.
  const help = spawnSync(process.execPath, [bin, 'broker', '--help'], { encoding: 'utf8' });
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stdout, /^usher broker — /);

  const brokerPort = await freePort();
  const env = { USHER_SECRET: SECRET };
  // Token mode, the broker's default: the test signs the join token an application would.
  const apiKey = { id: 'build', secret: randomBytes(36).toString('base64url') };
  const broker = new FleetProcess('broker', process.execPath, [bin, 'broker', '--port', String(brokerPort)], {
    ...env,
    USHER_API_KEYS: `${apiKey.id}:${apiKey.secret}`,
  });
  const media = new FleetProcess(
    'media',
    process.execPath,
    [bin, 'media', '--port', '0', '--id', 'compiled-1', '--broker', `http://127.0.0.1:${brokerPort}`],
    env,
  );
  t.after(() => media.kill());
  t.after(() => broker.kill());
  broker.start();
  media.start();
  try {
    await waitUntil(
      async () => (await httpStatus(`http://127.0.0.1:${brokerPort}/readyz`)) === 200,
      'compiled broker ready',
      20_000,
    );
    const answer = await fetch(`http://127.0.0.1:${brokerPort}/v1/sessions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        type: 'session.request',
        v: 1,
        id: 'r1',
        room: 'built',
        token: createJoinToken({ apiKey, room: 'built', identity: 'builder' }),
      }),
    });
    const body = (await answer.json()) as { type: string; server?: { id: string } };
    assert.equal(answer.status, 200, JSON.stringify(body));
    assert.equal(body.type, 'session.assigned');
    assert.equal(body.server?.id, 'compiled-1');
  } catch (error) {
    (error as Error).message +=
      `\n--- broker\n${broker.output().slice(-2000)}\n--- media\n${media.output().slice(-2000)}`;
    throw error;
  }
});
