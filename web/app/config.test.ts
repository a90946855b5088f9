// The page's URL → AppConfig: defaults, the broker override, and `?relay=1`.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { readConfig } from './config.ts';

const at = (search: string) => readConfig({ protocol: 'http:', host: '127.0.0.1:8080', search });

describe('readConfig', () => {
  test('defaults: same-origin broker, lobby, no autojoin, browser ICE policy', () => {
    assert.deepEqual(at(''), {
      brokerUrl: 'ws://127.0.0.1:8080/v1/session',
      room: 'lobby',
      name: '',
      autojoin: false,
      iceTransportPolicy: undefined,
    });
  });

  test('?relay=1 forces TURN; any other value does not', () => {
    assert.equal(at('?room=r&relay=1').iceTransportPolicy, 'relay');
    assert.equal(at('?relay=0').iceTransportPolicy, undefined);
    assert.equal(at('?relay=true').iceTransportPolicy, undefined);
  });

  test('https pages talk wss; ?broker= overrides the URL', () => {
    assert.equal(
      readConfig({ protocol: 'https:', host: 'x.test', search: '' }).brokerUrl,
      'wss://x.test/v1/session',
    );
    assert.equal(at('?broker=ws://b.test/v1/session').brokerUrl, 'ws://b.test/v1/session');
  });
});
