// `usher token`: print a join token signed with a key from USHER_API_KEYS, for scripts,
// tests and trying a deployment before the application's backend mints its own.
import { UsherError } from '../../shared/errors.ts';
import { DEFAULT_GRANTS, type JoinGrant, type JoinGrants } from '../../shared/protocol/join-token.ts';
import { UsherConfigError } from '../common/config-error.ts';
import { ApiKeys, signJoinToken } from '../common/join-token.ts';
import { MAX_SERVER_TOKEN_TTL_S, signServerToken } from '../common/server-token.ts';
import { formatHelp, type OptionTable, parseOptions } from './options.ts';

export const tokenOptions = {
  room: { kind: 'string', help: 'the room the token admits to (or --room-prefix)' },
  'room-prefix': { kind: 'string', help: 'admit to every room whose name starts with this' },
  identity: { kind: 'string', help: "the user's id in the application (required)" },
  name: { kind: 'string', help: 'display name (default: the identity)' },
  ttl: { kind: 'string', default: '10m', help: 'lifetime: seconds, or with s, m, h or d' },
  grant: {
    kind: 'list',
    help: `grants to give (${Object.keys(DEFAULT_GRANTS).join(', ')}) or take (no-publish, …)`,
  },
  key: { kind: 'string', help: 'id of the USHER_API_KEYS key to sign with (default: the first)' },
  server: {
    kind: 'bool',
    help: 'print a server API token instead (bearer for /v1/rooms; --ttl at most 1h, default 5m)',
  },
} as const satisfies OptionTable;

export const tokenHelp = formatHelp(
  'token',
  'print a join token signed with an API key (for scripts and tests)',
  tokenOptions,
  `
Environment:
  USHER_API_KEYS   the broker's API keys, "keyId:secret,keyId2:secret2" (secrets ≥ 32 chars)
Grants when not given: ${Object.entries(DEFAULT_GRANTS)
    .map(([grant, value]) => `${grant}=${value}`)
    .join(', ')}.
Example:
  usher token --room standup --identity user-42 --name Ada --ttl 1h --grant admin
  curl -H "Authorization: Bearer $(usher token --server)" http://127.0.0.1:8080/v1/rooms
`,
);

const MAX_TTL_SECONDS = 366 * 86_400;
const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

export async function runToken(argv: string[], env: NodeJS.ProcessEnv): Promise<void> {
  const options = parseOptions('token', tokenOptions, argv, env);
  const keys = ApiKeys.parse(env.USHER_API_KEYS);
  const key = options.key === undefined ? keys.current : keys.get(options.key);
  if (key === undefined)
    throw new UsherConfigError(
      `usher token: --key "${options.key}" is not in USHER_API_KEYS (${keys.ids.join(', ')})`,
    );
  if (options.server === true) {
    if (options.room !== undefined || options['room-prefix'] !== undefined || options.identity !== undefined)
      throw new UsherConfigError('usher token: --server takes no --room, --room-prefix or --identity');
    const ttl = argv.some((arg) => arg === '--ttl' || arg.startsWith('--ttl='))
      ? parseTtl(options.ttl)
      : undefined;
    if (ttl !== undefined && ttl > MAX_SERVER_TOKEN_TTL_S)
      throw new UsherConfigError('usher token: a server token lasts at most 1h');
    process.stdout.write(`${signServerToken(key, ttl)}\n`);
    return;
  }
  if ((options.room === undefined) === (options['room-prefix'] === undefined))
    throw new UsherConfigError('usher token: give exactly one of --room and --room-prefix');
  if (options.identity === undefined) throw new UsherConfigError('usher token: --identity is required');
  let token: string;
  try {
    token = signJoinToken(key, {
      ...(options.room === undefined ? {} : { room: options.room }),
      ...(options['room-prefix'] === undefined ? {} : { roomPrefix: options['room-prefix'] }),
      identity: options.identity,
      ...(options.name === undefined ? {} : { name: options.name }),
      ttlSeconds: parseTtl(options.ttl),
      ...(options.grant === undefined ? {} : { grants: parseGrants(options.grant) }),
    });
  } catch (error) {
    if (error instanceof UsherError) throw new UsherConfigError(`usher token: ${error.message}`);
    throw error;
  }
  process.stdout.write(`${token}\n`);
}

function parseTtl(raw: string): number {
  const match = /^(\d+)([smhd]?)$/.exec(raw);
  const seconds = match === null ? Number.NaN : Number(match[1]) * UNIT_SECONDS[match[2] || 's']!;
  if (!(seconds >= 1 && seconds <= MAX_TTL_SECONDS))
    throw new UsherConfigError(`usher token: --ttl must be 1s to 366d (e.g. 90, 10m, 1h), got "${raw}"`);
  return seconds;
}

function parseGrants(names: readonly string[]): JoinGrants {
  const grants: JoinGrants = {};
  for (const name of names) {
    const denied = name.startsWith('no-');
    const grant = (denied ? name.slice(3) : name) as JoinGrant;
    if (!Object.hasOwn(DEFAULT_GRANTS, grant))
      throw new UsherConfigError(
        `usher token: unknown grant "${name}" (known: ${Object.keys(DEFAULT_GRANTS).join(', ')}; prefix no- to take one)`,
      );
    grants[grant] = !denied;
  }
  return grants;
}
