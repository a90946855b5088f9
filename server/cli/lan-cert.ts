// `usher stack --lan`: a local certificate authority and a server certificate for this
// machine's LAN addresses, made once with openssl and kept under .usher/lan/, so phones on the
// same network can trust one CA file and get a secure context (camera, microphone) over https.
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { UsherConfigError } from '../common/config-error.ts';

export interface LanCertificate {
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
  /** Certificate then key in one file (HAProxy's `crt`). */
  readonly pemFile: string;
  /** The addresses and names the certificate covers. */
  readonly names: readonly string[];
}

/** The machine's non-internal IPv4 addresses (what a phone on the same Wi-Fi reaches). */
export function lanAddresses(): string[] {
  const found: string[] = [];
  for (const addresses of Object.values(networkInterfaces())) {
    for (const address of addresses ?? []) {
      if (address.family === 'IPv4' && !address.internal) found.push(address.address);
    }
  }
  return found;
}

const CA_DAYS = 3650;
/** Apple refuses server certificates valid for more than 825 days. */
const SERVER_DAYS = 825;

/**
 * The CA is made once; the server certificate again whenever the addresses it must cover change
 * (a laptop on another network) or it is about to expire.
 */
export function ensureLanCertificate(dir: string, addresses: readonly string[]): LanCertificate {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const caKey = join(dir, 'ca-key.pem');
  const caFile = join(dir, 'usher-local-ca.pem');
  const certFile = join(dir, 'server.pem');
  const keyFile = join(dir, 'server-key.pem');
  const pemFile = join(dir, 'server-with-key.pem');
  const names = ['localhost', '127.0.0.1', ...addresses];
  if (!existsSync(caFile) || !existsSync(caKey)) {
    openssl(['genrsa', '-out', caKey, '2048']);
    openssl([
      'req',
      '-x509',
      '-new',
      '-key',
      caKey,
      '-sha256',
      '-days',
      String(CA_DAYS),
      '-subj',
      '/CN=Usher local CA',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
      '-out',
      caFile,
    ]);
  }
  if (!certificateCovers(certFile, names)) {
    const csr = join(dir, 'server.csr');
    const ext = join(dir, 'server.ext');
    const altNames = names.map((name) => (/^[\d.]+$/.test(name) ? `IP:${name}` : `DNS:${name}`));
    writeFileSync(
      ext,
      `basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=${altNames.join(',')}\n`,
    );
    openssl(['genrsa', '-out', keyFile, '2048']);
    openssl(['req', '-new', '-key', keyFile, '-subj', '/CN=usher', '-out', csr]);
    openssl([
      'x509',
      '-req',
      '-in',
      csr,
      '-CA',
      caFile,
      '-CAkey',
      caKey,
      '-CAcreateserial',
      '-days',
      String(SERVER_DAYS),
      '-sha256',
      '-extfile',
      ext,
      '-out',
      certFile,
    ]);
    writeFileSync(pemFile, readFileSync(certFile, 'utf8') + readFileSync(keyFile, 'utf8'), { mode: 0o600 });
  }
  return { caFile, certFile, keyFile, pemFile, names };
}

function certificateCovers(certFile: string, names: readonly string[]): boolean {
  if (!existsSync(certFile)) return false;
  try {
    const cert = new X509Certificate(readFileSync(certFile));
    const weekAhead = Date.now() + 7 * 24 * 3600 * 1000;
    if (new Date(cert.validTo).getTime() < weekAhead) return false;
    return names.every(
      (name) => (/^[\d.]+$/.test(name) ? cert.checkIP(name) : cert.checkHost(name)) !== undefined,
    );
  } catch {
    return false;
  }
}

function openssl(args: string[]): void {
  try {
    execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString() ?? (error as Error).message;
    throw new UsherConfigError(
      `usher stack --lan: openssl ${args[0]} failed (is openssl installed?): ${stderr.trim()}`,
    );
  }
}

/** The lines printed after the URL: how to trust the CA on a phone. */
export function trustInstructions(caFile: string): string[] {
  return [
    `To use a phone on the same network, trust the local CA once: ${caFile}`,
    '  (send it to the phone: mail, AirDrop, USB; it holds no secret — the CA key stays in the same folder).',
    '  iOS: open the file → Settings › General › VPN & Device Management › install the profile,',
    '       then Settings › General › About › Certificate Trust Settings › turn on "Usher local CA".',
    '  Android: Settings › Security › Encryption & credentials › Install a certificate › CA certificate,',
    '       pick the file (Chrome then trusts it; some apps do not trust user CAs).',
    '  Desktop browsers: import it as a trusted authority, or accept the warning once per address.',
  ];
}
