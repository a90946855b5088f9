// The page's URL → AppConfig (defaults, the broker override, `?relay=1`) and back: the call's
// URL keeps the room and name for a reload, the invite link only the room.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { callUrl, inviteUrl, readConfig } from './config.ts';

const at = (search: string) => readConfig({ protocol: 'http:', host: '127.0.0.1:8080', search });

describe('readConfig', () => {
  test('defaults: same-origin broker, lobby, no autojoin, browser ICE policy', () => {
    assert.deepEqual(at(''), {
      brokerUrl: 'ws://127.0.0.1:8080/v1/session',
      room: 'lobby',
      name: '',
      autojoin: false,
      embed: false,
      token: null,
      iceTransportPolicy: undefined,
    });
  });

  test('embed mode: /embed or ?embed=1; it joins by itself unless autojoin=0; ?token= is kept', () => {
    const embed = (pathname: string, search: string) =>
      readConfig({ protocol: 'http:', host: 'h', pathname, search });
    assert.deepEqual([embed('/embed', '?room=r').embed, embed('/embed', '?room=r').autojoin], [true, true]);
    assert.deepEqual([embed('/', '?embed=1').embed, embed('/embed/', '?autojoin=0').autojoin], [true, false]);
    assert.deepEqual([embed('/embedded', '').embed, embed('/', '?room=r').autojoin], [false, false]);
    assert.equal(embed('/embed', '?token=abc').token, 'abc');
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

describe('call and invite URLs', () => {
  test('a friendly room and a name survive the round trip through the URL', () => {
    const href = callUrl('http://h.test/?relay=1', 'Café 会议', 'Zoë');
    const back = readConfig({ protocol: 'http:', host: 'h.test', search: new URL(href).search });
    assert.equal(back.room, 'Café 会议');
    assert.equal(back.name, 'Zoë');
    assert.equal(back.iceTransportPolicy, 'relay');
  });

  test('the invite link carries the room and broker, not the name or flags', () => {
    const link = new URL(
      inviteUrl('http://h.test/?room=x&name=me&autojoin=1&broker=ws://b.test/v1/session', 'Team standup'),
    );
    assert.equal(link.searchParams.get('room'), 'Team standup');
    assert.equal(link.searchParams.get('broker'), 'ws://b.test/v1/session');
    assert.equal(link.searchParams.get('name'), null);
    assert.equal(link.searchParams.get('autojoin'), null);
  });
});
