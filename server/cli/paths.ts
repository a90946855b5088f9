// Where the repository's own files are, independent of the current directory.
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const USHER_BIN = fileURLToPath(new URL('../../bin/usher.mjs', import.meta.url));

export function defaultStaticDir(): string {
  return fileURLToPath(new URL('../../dist/web', import.meta.url));
}
