// A TLS certificate and key read from files, read again on demand (SIGHUP), so a renewed
// certificate is served to new connections while the open ones keep theirs.
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { SecureContextOptions } from 'node:tls';
import { UsherConfigError } from './config-error.ts';
import type { Logger } from './logger.ts';

export interface TlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
}

/** What a server needs to serve TLS: the current files' contents, read again by `load()`. */
export interface TlsSource {
  readonly files: TlsFiles;
  load(): Pick<SecureContextOptions, 'cert' | 'key'>;
}

/** A server whose certificate can be swapped (node's https and tls servers). */
export interface SecureContextHolder {
  setSecureContext(options: SecureContextOptions): void;
}

export function tlsFromFiles(files: TlsFiles): TlsSource {
  return {
    files,
    load() {
      const cert = readFileSync(files.certFile);
      const key = readFileSync(files.keyFile);
      // Parsed here so a broken file is reported by name, not as an opaque handshake failure later.
      new X509Certificate(cert);
      return { cert, key };
    },
  };
}

/**
 * The files of --tls-cert/--tls-key, both or neither; checked at start so a typo exits with a
 * clear message instead of a server that fails every handshake.
 */
export function tlsOption(
  command: string,
  certFile: string | undefined,
  keyFile: string | undefined,
): TlsSource | undefined {
  if (certFile === undefined && keyFile === undefined) return undefined;
  if (certFile === undefined || keyFile === undefined)
    throw new UsherConfigError(`usher ${command}: --tls-cert and --tls-key go together`);
  const source = tlsFromFiles({ certFile, keyFile });
  try {
    source.load();
  } catch (error) {
    throw new UsherConfigError(
      `usher ${command}: cannot read the TLS certificate or key (${(error as Error).message})`,
    );
  }
  return source;
}

/**
 * Reads the files again and swaps the server's certificate; a bad file keeps the old one
 * (and is logged), so a half-written renewal never takes the server down.
 */
export function reloadTls(server: SecureContextHolder, source: TlsSource, logger: Logger): boolean {
  try {
    const loaded = source.load();
    server.setSecureContext(loaded);
    const cert = new X509Certificate(loaded.cert as Buffer);
    logger.info(
      { subject: cert.subject, validTo: cert.validTo, fingerprint256: cert.fingerprint256 },
      'tls certificate reloaded',
    );
    return true;
  } catch (error) {
    logger.error(
      { err: (error as Error).message, certFile: source.files.certFile },
      'tls certificate reload failed: keeping the old one',
    );
    return false;
  }
}

/** localhost, 127.0.0.0/8, ::1 (and the IPv4-mapped form): addresses only this machine reaches. */
export function isLoopbackHost(host: string): boolean {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  const lower = bare.toLowerCase();
  if (lower === 'localhost' || lower.endsWith('.localhost')) return true;
  if (isIP(lower) === 4) return lower.startsWith('127.');
  if (isIP(lower) === 6) return lower === '::1' || lower.startsWith('::ffff:127.');
  return false;
}

/** A ws(s)/http(s) URL whose host is a loopback address; false for anything that does not parse. */
export function isLoopbackUrl(raw: string): boolean {
  try {
    return isLoopbackHost(new URL(raw).hostname);
  } catch {
    return false;
  }
}
