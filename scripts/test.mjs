#!/usr/bin/env node
// `npm test`: bootstraps what the suite needs (deps, Debian packages, the web build), then runs lint, typecheck, unit and
// integration tests (node:test) and the browser e2e tests (Playwright),
// and ends with one line "N passed, N failed". Usage: node scripts/test.mjs [--only stage,...]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const onlyIndex = process.argv.indexOf('--only');
const only = onlyIndex >= 0 ? new Set(process.argv[onlyIndex + 1]?.split(',')) : null;
const wanted = (stage) => only === null || only.has(stage);
const bin = (name) => join(root, 'node_modules', '.bin', name);

// Debian packages the tests use, as package:binary.
const APT = [
  'chromium:/usr/bin/chromium',
  'docker-compose:/usr/bin/docker-compose',
  'coturn:/usr/bin/turnserver',
  'redis-server:/usr/bin/redis-server',
  'haproxy:/usr/sbin/haproxy',
  'openssl:/usr/bin/openssl',
];

const results = [];
/** What each failed test said (its error and its diagnostics), printed after the summary so a log's tail has it. */
const failureReports = [];
let passed = 0;
let failed = 0;
let skipped = 0;

function stage(name, command, args, options = {}) {
  if (name !== 'bootstrap' && !wanted(name)) return null;
  const started = Date.now();
  console.log(`\n=== ${name}: ${[command, ...args].map((a) => relative(root, a) || a).join(' ')}`);
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', ...options });
  const ok = result.status === 0;
  results.push({ name, ok, seconds: (Date.now() - started) / 1000 });
  return ok;
}

/**
 * The failed leaf tests of a node:test TAP stream: name, location, error text and the test's own diagnostics
 * (`t.diagnostic` lines follow the YAML block at the same indentation). Parents that only failed because a
 * subtest did are left out.
 */
function tapFailures(text) {
  const lines = text.split('\n');
  const reports = [];
  for (let i = 0; i < lines.length; i += 1) {
    const match = lines[i].match(/^(\s*)not ok \d+ - (.*)$/);
    if (match === null) continue;
    const indent = match[1];
    const block = [];
    let j = i + 1;
    if (lines[j]?.trim() === '---') {
      for (j += 1; j < lines.length && lines[j].trim() !== '...'; j += 1)
        block.push(lines[j].slice(indent.length + 2));
      j += 1;
    }
    if (block.some((line) => line.startsWith("failureType: 'subtestsFailed'"))) continue;
    const report = [`✖ ${match[2]}`];
    let inError = false;
    for (const line of block) {
      if (/^(location|failureType):/.test(line)) report.push(`  ${line}`);
      if (/^(error|expected|actual):/.test(line)) inError = line.startsWith('error:');
      else if (/^\S/.test(line)) inError = false;
      if (inError || /^(expected|actual):/.test(line)) report.push(`  ${line}`);
    }
    for (
      ;
      j < lines.length && lines[j].startsWith(`${indent}# `) && !lines[j].startsWith(`${indent}# Subtest`);
      j += 1
    )
      report.push(`  ${lines[j].slice(indent.length)}`);
    reports.push(report.slice(0, 80).join('\n'));
  }
  return reports;
}

/** The failed tests of a Playwright JSON report: title path and the first lines of each error. */
function playwrightFailures(report) {
  const reports = [];
  const visit = (suite, titles) => {
    for (const child of suite.suites ?? []) visit(child, [...titles, child.title]);
    for (const spec of suite.specs ?? []) {
      for (const test of spec.tests ?? []) {
        if (test.status === 'expected' || test.status === 'skipped') continue;
        const errors = (test.results ?? []).flatMap((result) => result.errors ?? []);
        const text = errors.map((error) =>
          String(error.message ?? '')
            .split('\n')
            .slice(0, 20)
            .join('\n'),
        );
        reports.push(
          [`✖ ${[...titles, spec.title].filter(Boolean).join(' › ')} (${test.status})`, ...text].join('\n'),
        );
      }
    }
  };
  for (const suite of report.suites ?? []) visit(suite, [suite.title]);
  return reports;
}

// Test helpers live in `testing/` folders (docs/ARCHITECTURE.md): never collected as tests.
function findTests(dir, out = []) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name === 'testing' || entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) findTests(path, out);
    else if (entry.name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

const scratch = mkdtempSync(join(tmpdir(), 'usher-test-'));
try {
  const bootstrapArgs = [join(root, 'scripts', 'bootstrap.mjs')];
  if (wanted('e2e') || wanted('unit')) bootstrapArgs.push('--apt', APT.join(','), '--web');
  if (stage('bootstrap', process.execPath, bootstrapArgs) === false) process.exit(1);

  stage('lint', bin('biome'), ['check', '.']);
  stage('typecheck', bin('tsc'), ['--noEmit', '-p', 'tsconfig.json']);

  const testFiles = ['shared', 'server', 'web', 'test', 'bench']
    .flatMap((dir) => {
      try {
        return findTests(join(root, dir));
      } catch {
        return [];
      }
    })
    .sort();
  const tap = join(scratch, 'unit.tap');
  const unitOk = stage('unit', process.execPath, [
    '--import',
    'tsx',
    '--test',
    '--test-reporter=spec',
    '--test-reporter-destination=stdout',
    '--test-reporter=tap',
    `--test-reporter-destination=${tap}`,
    ...testFiles,
  ]);
  if (unitOk !== null) {
    const text = readFileSync(tap, 'utf8');
    const count = (label) => Number(text.match(new RegExp(`^# ${label} (\\d+)$`, 'm'))?.[1] ?? 0);
    passed += count('pass');
    failed += count('fail') + count('cancelled');
    skipped += count('skipped') + count('todo');
    failureReports.push(...tapFailures(text));
    if (count('pass') === 0) failed += 1; // a unit stage that ran nothing is a failure
  }

  if (wanted('e2e')) {
    const report = join(scratch, 'e2e.json');
    const e2eOk = stage('e2e', bin('playwright'), ['test', '--reporter=list,json'], {
      env: { ...process.env, PLAYWRIGHT_JSON_OUTPUT_NAME: report },
    });
    try {
      const stats = JSON.parse(readFileSync(report, 'utf8')).stats;
      passed += stats.expected;
      failed += stats.unexpected + stats.flaky;
      skipped += stats.skipped;
      failureReports.push(...playwrightFailures(JSON.parse(readFileSync(report, 'utf8'))));
      if (stats.expected === 0) failed += 1;
    } catch {
      if (e2eOk !== null) failed += 1; // no report: the runner itself failed
    }
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}

if (failureReports.length > 0) {
  console.log(`\n=== failures (${failureReports.length})`);
  for (const report of failureReports) console.log(report);
}
console.log('\n=== summary');
for (const result of results)
  console.log(`${result.ok ? 'ok  ' : 'FAIL'} ${result.name} (${result.seconds.toFixed(1)} s)`);
const stagesFailed = results.filter((result) => !result.ok).length;
if (skipped > 0) console.log(`${skipped} tests were skipped: skipped tests are not allowed, count as failed`);
console.log(
  `${passed} passed, ${failed + skipped + (failed === 0 && stagesFailed > 0 ? stagesFailed : 0)} failed`,
);
process.exit(stagesFailed > 0 || failed > 0 || skipped > 0 ? 1 : 0);
