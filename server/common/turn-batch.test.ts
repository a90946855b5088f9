// Writes of one turn reach the peer in one chunk; the next turn starts a new batch; a
// destroyed socket is left alone.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';
import { describe, test } from 'node:test';
import { waitUntil } from '../../shared/testing/wait.ts';
import { TurnBatch } from './turn-batch.ts';

async function socketPair(t: { after(fn: () => void): void }): Promise<{ writer: Socket; reads: Buffer[] }> {
  const reads: Buffer[] = [];
  const server = createServer((peer) => peer.on('data', (chunk: Buffer) => reads.push(chunk)));
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  const writer = connect(address.port, '127.0.0.1');
  writer.setNoDelay(true);
  await once(writer, 'connect');
  t.after(() => {
    writer.destroy();
    server.close();
  });
  return { writer, reads };
}

describe('TurnBatch', () => {
  test('the writes of one turn wait in the socket and leave together at its end; a later turn is a new batch', async (t) => {
    const { writer, reads } = await socketPair(t);
    const batch = new TurnBatch(writer);
    let bytes = 0;
    for (let i = 0; i < 20; i += 1) {
      batch.hold();
      const frame = `frame-${i};`;
      bytes += frame.length;
      writer.write(frame);
    }
    assert.equal(writer.writableCorked, 1, 'corked once for the whole turn');
    assert.equal(writer.writableLength, bytes, 'nothing written to the kernel during the turn');
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(writer.writableCorked, 0);
    await waitUntil(() => Buffer.concat(reads).toString().includes('frame-19;'), 'the batch to arrive');
    batch.hold();
    writer.write('late;');
    assert.equal(writer.writableCorked, 1, 'the next turn corks again');
    await waitUntil(() => Buffer.concat(reads).toString().endsWith('late;'), 'the second batch');
  });

  test('holding a destroyed socket does nothing', async (t) => {
    const { writer } = await socketPair(t);
    writer.destroy();
    new TurnBatch(writer).hold();
    assert.equal(writer.writableCorked, 0);
  });
});
