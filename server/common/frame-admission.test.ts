import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Type } from 'typebox';
import { createDecoder } from '../../shared/codec.ts';
import { admitFrame, BINARY_FRAME, decodeFrame, frameBytes, frameText } from './frame-admission.ts';
import { TokenBucket } from './token-bucket.ts';

const decoder = createDecoder(
  Type.Union([Type.Object({ type: Type.Literal('ping'), v: Type.Literal(1), seq: Type.Integer() })]),
);

test('size is checked before the rate, and a refused size costs no token', () => {
  const bucket = new TokenBucket({ burst: 1, perSecond: 1, abuseDebt: 2 }, 0);
  assert.equal(admitFrame(Buffer.alloc(11), 10, bucket, 0), 'too-large');
  assert.equal(admitFrame(Buffer.alloc(10), 10, bucket, 0), 'ok');
  assert.equal(admitFrame(Buffer.alloc(10), 10, bucket, 0), 'limited');
  assert.equal(admitFrame(Buffer.alloc(10), 10, bucket, 0), 'limited');
  assert.equal(admitFrame(Buffer.alloc(10), 10, bucket, 0), 'abuse');
  assert.equal(admitFrame(Buffer.alloc(1 << 20), undefined, undefined, 0), 'ok');
});

test('fragments and ArrayBuffers are measured and read like a Buffer', () => {
  const parts = [Buffer.from('{"type":'), Buffer.from('"ping","v":1,"seq":7}')];
  assert.equal(frameBytes(parts), 29);
  assert.equal(frameText(parts), '{"type":"ping","v":1,"seq":7}');
  const array = new TextEncoder().encode('héllo').buffer as ArrayBuffer;
  assert.equal(frameBytes(array), 6);
  assert.equal(frameText(array), 'héllo');
});

test('binary frames are refused unread; text frames are decoded with the schema', () => {
  assert.equal(decodeFrame(decoder, Buffer.from('{"type":"ping","v":1,"seq":1}'), true), BINARY_FRAME);
  assert.equal(BINARY_FRAME.code, 'BAD_MESSAGE');
  assert.deepEqual(decodeFrame(decoder, Buffer.from('{"type":"ping","v":1,"seq":1}'), false), {
    ok: true,
    msg: { type: 'ping', v: 1, seq: 1 },
  });
  const bad = decodeFrame(decoder, Buffer.from('{"type":"ping","v":1'), false);
  assert.equal(bad.ok ? 'ok' : bad.code, 'BAD_JSON');
});
