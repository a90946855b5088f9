// What every socket handler does with a frame before acting on it — the route's size limit,
// the socket's token bucket, the refusal of binary frames, decoding with the shared schema —
// in one place, so the broker's and the media server's sockets refuse the same input alike.
// Plain functions over values the handler already holds: nothing is allocated per frame here.
import type { DecodeFailure, DecodeResult, Decoder } from '../../shared/codec.ts';
import type { TokenBucket } from './token-bucket.ts';

/** A frame as ws hands it over (`binaryType` 'nodebuffer', the default, gives a Buffer). */
export type RawFrame = Buffer | ArrayBuffer | Buffer[];

/**
 * What the cheap checks say about a frame: `too-large` (over the route's own limit), `limited`
 * (over the socket's rate: refuse it), `abuse` (far over: close the socket), or `ok`.
 */
export type FrameVerdict = 'ok' | 'too-large' | 'limited' | 'abuse';

/** The refusal of a binary frame: every channel speaks JSON text. */
export const BINARY_FRAME: DecodeFailure = Object.freeze({
  ok: false,
  code: 'BAD_MESSAGE',
  message: 'messages must be JSON text frames',
  id: null,
});

export function frameBytes(data: RawFrame): number {
  if (Array.isArray(data)) {
    let total = 0;
    for (const part of data) total += part.length;
    return total;
  }
  return data instanceof ArrayBuffer ? data.byteLength : data.length;
}

export function frameText(data: RawFrame): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return data instanceof ArrayBuffer ? Buffer.from(data).toString('utf8') : data.toString('utf8');
}

/**
 * The checks that cost nothing to read the frame: its size against `maxBytes` (undefined: the
 * route relies on ws's maxPayload alone), then one token from the socket's `bucket` (undefined:
 * unlimited). Every frame that reaches the bucket costs a token, valid or not.
 */
export function admitFrame(
  data: RawFrame,
  maxBytes: number | undefined,
  bucket: TokenBucket | undefined,
  now: number,
): FrameVerdict {
  if (maxBytes !== undefined && frameBytes(data) > maxBytes) return 'too-large';
  return bucket === undefined ? 'ok' : bucket.take(now);
}

/** The frame's message, or why it is not one (binary frames are refused unread). */
export function decodeFrame<T>(decoder: Decoder<T>, data: RawFrame, isBinary: boolean): DecodeResult<T> {
  return isBinary ? BINARY_FRAME : decoder.decode(frameText(data));
}
