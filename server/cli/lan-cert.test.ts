import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ensureLanCertificate } from './lan-cert.ts';

test('the LAN CA is made once; the server certificate again only when the addresses change', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'usher-lan-cert-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const first = ensureLanCertificate(dir, ['192.0.2.10']);
  const ca = new X509Certificate(readFileSync(first.caFile));
  const cert = new X509Certificate(readFileSync(first.certFile));
  assert.ok(cert.checkIssued(ca), 'signed by the local CA');
  assert.ok(cert.verify(ca.publicKey));
  assert.equal(cert.checkIP('192.0.2.10'), '192.0.2.10');
  assert.equal(cert.checkIP('127.0.0.1'), '127.0.0.1');
  assert.equal(cert.checkHost('localhost'), 'localhost');
  assert.equal(ca.ca, true);
  assert.match(readFileSync(first.pemFile, 'utf8'), /BEGIN CERTIFICATE[\s\S]*PRIVATE KEY/);

  ensureLanCertificate(dir, ['192.0.2.10']);
  assert.equal(
    readFileSync(first.certFile, 'utf8'),
    cert.toString(),
    'same addresses: the certificate is kept',
  );

  ensureLanCertificate(dir, ['192.0.2.20']);
  const moved = new X509Certificate(readFileSync(first.certFile));
  assert.equal(moved.checkIP('192.0.2.20'), '192.0.2.20', 'new address: a new certificate');
  assert.equal(readFileSync(first.caFile, 'utf8'), ca.toString(), 'the CA the phones trust stays');
  assert.ok(moved.checkIssued(ca));
});
