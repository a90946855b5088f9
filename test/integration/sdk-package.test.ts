// The SDK as a package, as another project gets it: `npm pack` (its prepack builds the bundle
// and the .d.ts), `npm install <tarball> --offline` into a throwaway project (no registry: the
// package has no runtime dependency), a type check of code using it, a Vite build of that code,
// and the built bundle run.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const VITE = join(root, 'node_modules/vite/bin/vite.js');
const TSC = join(root, 'node_modules/typescript/bin/tsc');

const CONSUMER = `import { UsherClientError, UsherSession, type Participant } from '@usher/sdk';

const session = new UsherSession({ brokerUrls: ['ws://127.0.0.1:9/v1/session'], room: 'demo', name: 'Ada' });
const names: string[] = [];
session.on('participant-joined', (p: Participant) => names.push(p.name));
const error = new UsherClientError('FORBIDDEN_ORIGIN', 'origin not allowed');
console.log(JSON.stringify({ state: session.state, participants: session.participants().length, retry: error.retry, muted: session.muted }));
`;

describe('the SDK package', () => {
  test('packs without runtime dependencies, installs offline, type-checks and bundles in another project', (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'usher-sdk-consumer-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const run = (cmd: string, args: string[], cwd: string): string =>
      execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 });

    const packed = JSON.parse(
      run('npm', ['pack', '--json', '--pack-destination', dir], join(root, 'packages/sdk')),
    ) as Array<{ filename: string; files: Array<{ path: string }> }>;
    const files = packed[0]!.files.map((file) => file.path);
    assert.ok(files.includes('dist/usher.js'), files.join(', '));
    assert.ok(files.includes('dist/types/web/sdk/index.d.ts'), files.join(', '));
    assert.ok(
      !files.some((path) => path.endsWith('.test.d.ts') || path.includes('testing/')),
      files.join(', '),
    );
    const manifest = JSON.parse(readFileSync(join(root, 'packages/sdk/package.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    assert.equal(manifest.dependencies, undefined, 'no runtime dependencies');

    writeFileSync(
      join(dir, 'package.json'),
      JSON.stringify({ name: 'consumer', private: true, type: 'module' }),
    );
    run('npm', ['install', join(dir, packed[0]!.filename), '--offline', '--no-audit', '--no-fund'], dir);
    writeFileSync(join(dir, 'main.ts'), CONSUMER);
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'ESNext',
          moduleResolution: 'bundler',
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          lib: ['ES2022', 'DOM'],
          types: [],
        },
        files: ['main.ts'],
      }),
    );
    run(process.execPath, [TSC, '-p', 'tsconfig.json'], dir);
    writeFileSync(
      join(dir, 'vite.config.js'),
      `export default { logLevel: 'warn', build: { outDir: 'out', lib: { entry: 'main.ts', formats: ['es'], fileName: () => 'main.js' } } };\n`,
    );
    run(process.execPath, [VITE, 'build'], dir);
    assert.deepEqual(readdirSync(join(dir, 'out')), ['main.js']);
    const output = JSON.parse(run(process.execPath, [join(dir, 'out/main.js')], dir)) as unknown;
    assert.deepEqual(output, {
      state: 'idle',
      participants: 0,
      retry: 'never',
      muted: { audio: true, video: true },
    });
  });
});
