// Protocol version rule: every message that opens a conversation carries `v`.
// A peer that receives a `v` it does not speak answers UNSUPPORTED_VERSION (listing
// SUPPORTED_VERSIONS) and, on a media connection, closes; it never guesses.
export const PROTOCOL_VERSION = 1 as const;
export const SUPPORTED_VERSIONS: readonly number[] = [PROTOCOL_VERSION];
