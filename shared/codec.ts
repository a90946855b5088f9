// Decoding of inbound wire messages for the servers: JSON parse, type dispatch, version
// check and schema validation, each failure mapped to one catalogue code. Validators are
// compiled once per message type, so the hot path is a Map lookup and a compiled check.
import type { Static, TObject, TSchema } from 'typebox';
import { Compile } from 'typebox/compile';
import { ErrorCatalogue, type ErrorCode } from './errors.ts';
import type { ErrorMessage } from './protocol/common.ts';
import { PROTOCOL_VERSION, SUPPORTED_VERSIONS } from './version.ts';

export type DecodeFailure = {
  ok: false;
  code: ErrorCode;
  message: string;
  /** Correlation id, when the input carried a usable one. */
  id: string | null;
};
export type DecodeResult<T> = { ok: true; msg: T } | DecodeFailure;

interface TypedSchema extends TObject {
  properties: TObject['properties'] & { type: TSchema & { const: string } };
}

/** A decoder for one channel's inbound union (`Type.Union([...objects with a literal type])`). */
export interface Decoder<T> {
  decode(raw: string): DecodeResult<T>;
  decodeValue(value: unknown): DecodeResult<T>;
  readonly types: readonly string[];
}

function fail(
  code: ErrorCode,
  id: string | null,
  message: string = ErrorCatalogue[code].message,
): DecodeFailure {
  return { ok: false, code, message, id };
}

function correlationId(value: Record<string, unknown>): string | null {
  const id = value.id;
  return typeof id === 'string' && id.length > 0 && id.length <= 64 ? id : null;
}

export function createDecoder<U extends TSchema & { anyOf: TSchema[] }>(union: U): Decoder<Static<U>> {
  const byType = new Map<string, ReturnType<typeof Compile>>();
  for (const member of union.anyOf as TypedSchema[]) {
    const literal = member.properties.type.const;
    byType.set(literal, Compile(member));
  }
  const types = [...byType.keys()];

  function decodeValue(value: unknown): DecodeResult<Static<U>> {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      return fail('BAD_MESSAGE', null, 'message must be a JSON object');
    }
    const record = value as Record<string, unknown>;
    const id = correlationId(record);
    const type = record.type;
    if (typeof type !== 'string') return fail('BAD_MESSAGE', id, 'message has no string "type"');
    const validator = byType.get(type);
    if (validator === undefined) return fail('UNKNOWN_TYPE', id, 'unknown message type');
    const v = record.v;
    if (v !== undefined && v !== PROTOCOL_VERSION) {
      return fail(
        'UNSUPPORTED_VERSION',
        id,
        `unsupported protocol version; supported: ${SUPPORTED_VERSIONS.join(',')}`,
      );
    }
    if (!validator.Check(value)) {
      // Report where, never what: values may be secrets (tickets) or attacker-controlled.
      const first = validator.Errors(value)[0];
      const where =
        first?.instancePath === '' || first === undefined ? '' : ` at ${first.instancePath.slice(0, 64)}`;
      return fail(
        'BAD_MESSAGE',
        id,
        `invalid ${type} message${where}: ${first?.message ?? 'schema mismatch'}`,
      );
    }
    return { ok: true, msg: value as Static<U> };
  }

  return {
    types,
    decodeValue,
    decode(raw: string): DecodeResult<Static<U>> {
      let value: unknown;
      try {
        value = JSON.parse(raw);
      } catch {
        return fail('BAD_JSON', null);
      }
      return decodeValue(value);
    },
  };
}

/** Build the wire error for a failure (the `id` is echoed so the client can correlate). */
export function errorMessage(
  code: ErrorCode,
  id: string | null,
  message: string = ErrorCatalogue[code].message,
  extra?: { retryAfterMs?: number; supported?: number[] },
): ErrorMessage {
  const out: ErrorMessage = { type: 'error', v: PROTOCOL_VERSION, id, code, message };
  if (extra?.retryAfterMs !== undefined) out.retryAfterMs = extra.retryAfterMs;
  if (code === 'UNSUPPORTED_VERSION') out.supported = [...SUPPORTED_VERSIONS];
  else if (extra?.supported !== undefined) out.supported = extra.supported;
  return out;
}
