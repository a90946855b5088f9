// The embed's postMessage bridge with a fake window and a real CallStore (no session): which
// parents may drive it, that events go to that origin only, and that other senders are ignored.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseCommand } from '../embed/protocol.ts';
import { CallStore } from './call-store.ts';
import { type EmbedWindow, parentOriginOf, startEmbedBridge } from './embed-bridge.ts';

const APP = 'https://usher.example';
const HOST = 'https://customer.example';

class FakeParent {
  readonly posted: Array<{ message: { type: string }; target: string }> = [];
  postMessage(message: { type: string }, target: string): void {
    this.posted.push({ message, target });
  }
}

function frame(options: { ancestor?: string; claimed?: string; referrer?: string }) {
  const parent = new FakeParent();
  const listeners: Array<(event: MessageEvent) => void> = [];
  const search = options.claimed === undefined ? '' : `?parent=${encodeURIComponent(options.claimed)}`;
  const ancestors =
    options.ancestor === undefined ? undefined : ([options.ancestor] as unknown as DOMStringList);
  const win = {
    parent: parent as unknown as Window,
    location: { origin: APP, search, ancestorOrigins: ancestors },
    document: { referrer: options.referrer ?? '' },
    addEventListener: (_type: string, listener: (event: MessageEvent) => void) => listeners.push(listener),
    removeEventListener: () => undefined,
    postMessage: () => undefined,
  } as unknown as EmbedWindow;
  const send = (data: unknown, origin: string, source: unknown = parent): void => {
    for (const l of listeners) l({ data, origin, source } as unknown as MessageEvent);
  };
  return { win, parent, send };
}

describe('embed bridge', () => {
  test('the parent origin: ancestorOrigins, else the referrer; a claimed parent must match', () => {
    assert.equal(parentOriginOf(frame({ ancestor: HOST }).win), HOST);
    assert.equal(parentOriginOf(frame({ referrer: `${HOST}/page?x=1` }).win), HOST);
    assert.equal(parentOriginOf(frame({ ancestor: HOST, claimed: HOST }).win), HOST);
    assert.equal(parentOriginOf(frame({ ancestor: HOST, claimed: 'https://evil.example' }).win), null);
  });

  test('an allowed parent gets ready and the events, at its origin only; commands from others are ignored', async () => {
    const { win, parent, send } = frame({ ancestor: HOST });
    const store = new CallStore('ws://127.0.0.1:1/v1/session');
    let joins = 0;
    const bridge = await startEmbedBridge(win, store, { join: () => joins++ }, async () => ({
      frameAncestors: [HOST],
    }));
    assert.ok(bridge !== null);
    assert.deepEqual(parent.posted, [{ message: { usher: 1, type: 'ready' }, target: HOST }]);
    send({ usher: 1, type: 'join' }, 'https://evil.example');
    send({ usher: 1, type: 'join' }, HOST, {});
    send({ usher: 2, type: 'join' }, HOST);
    assert.equal(joins, 0, 'wrong origin, wrong source, wrong version');
    send({ usher: 1, type: 'join' }, HOST);
    assert.equal(joins, 1);
    bridge.stop();
  });

  test('a parent the broker does not list gets nothing', async () => {
    const { win, parent, send } = frame({ ancestor: 'https://evil.example' });
    let joins = 0;
    const bridge = await startEmbedBridge(
      win,
      new CallStore('ws://x/v1/session'),
      { join: () => joins++ },
      async () => ({
        frameAncestors: [HOST],
      }),
    );
    assert.equal(bridge, null);
    send({ usher: 1, type: 'join' }, 'https://evil.example');
    assert.deepEqual([parent.posted, joins], [[], 0]);
  });

  test('commands are parsed strictly', () => {
    assert.deepEqual(parseCommand({ usher: 1, type: 'mute', kind: 'video' }), {
      usher: 1,
      type: 'mute',
      kind: 'video',
    });
    assert.equal(parseCommand({ usher: 1, type: 'mute', kind: 'screen' }), null);
    assert.equal(parseCommand({ usher: 1, type: 'setToken', token: 'x'.repeat(5000) }), null);
    assert.equal(parseCommand({ usher: 1, type: 'eval' }), null);
    assert.equal(parseCommand('{"usher":1,"type":"join"}'), null);
  });
});
