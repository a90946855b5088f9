// What a person types as a room name → the canonical room id the protocol accepts
// (shared/protocol/common.ts RoomName: ^[A-Za-z0-9][A-Za-z0-9._-]*$, at most 64).
// The mapping is deterministic and case-insensitive; docs/ARCHITECTURE.md describes it.

/** Same bound as the protocol's id, counted in characters a person sees (code points). */
export const MAX_ROOM_NAME_CHARS = 64;
const MAX_ID_CHARS = 64;
const HASH_CHARS = 11;
const SIMPLE_ID = /^[a-z0-9][a-z0-9._-]*$/;

export type RoomNameResult = { ok: true; id: string; name: string } | { ok: false; reason: string };

/** Unicode NFKC, trimmed, inner whitespace runs as one space: how two typings of a name compare. */
export function tidyRoomName(input: string): string {
  return input.normalize('NFKC').trim().replace(/\s+/gu, ' ');
}

/**
 * - ASCII names of letters, digits, '.', '_', '-' and spaces: lowercased, spaces as '-'
 *   ("Team standup" → "team-standup"); such an id maps to itself.
 * - Anything else (accents, other scripts, symbols): an ASCII slug of what can be kept, then
 *   '-' and a hash of the whole tidied, lowercased name, so names that differ anywhere get
 *   different ids ("Café" → "cafe-<hash>", "会议" → "room-<hash>").
 * - Empty or longer than MAX_ROOM_NAME_CHARS: refused with a sentence, never cut.
 */
export function canonicalRoomId(input: string): RoomNameResult {
  const name = tidyRoomName(input);
  if (name === '') return { ok: false, reason: 'Type a room name.' };
  const length = [...name].length;
  if (length > MAX_ROOM_NAME_CHARS) {
    return {
      ok: false,
      reason: `Room names can be at most ${MAX_ROOM_NAME_CHARS} characters; this one has ${length}. Please shorten it.`,
    };
  }
  const lower = name.toLowerCase();
  const simple = lower.replaceAll(' ', '-');
  if (SIMPLE_ID.test(simple)) return { ok: true, id: simple, name };
  const slug = lower
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, MAX_ID_CHARS - HASH_CHARS - 1)
    .replace(/-+$/, '');
  return { ok: true, id: `${slug === '' ? 'room' : slug}-${hash53(lower)}`, name };
}

/** cyrb53: a fast, well-mixed 53-bit string hash, sync (crypto.subtle is missing on plain-HTTP
 *  pages, where the app must still say what is wrong), as HASH_CHARS base-36 digits. */
function hash53(text: string): string {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  const value = 4294967296 * (2097151 & h2) + (h1 >>> 0);
  return value.toString(36).padStart(HASH_CHARS, '0');
}
