// Protocol version rule: every message that opens a conversation carries `v`.
// A peer that receives a `v` it does not speak answers UNSUPPORTED_VERSION (listing
// SUPPORTED_VERSIONS), drops the message and never guesses. The connection stays open
// (the client may resend in a supported version), except a control channel whose first
// message is refused: it closes 4400 like any bad first `register`.
export const PROTOCOL_VERSION = 1 as const;
export const SUPPORTED_VERSIONS: readonly number[] = [PROTOCOL_VERSION];
