// How <usher-call>'s `broker` attribute becomes session URLs.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { brokerUrls } from './broker-urls.ts';

describe('brokerUrls', () => {
  test('http(s) origins become ws(s) session URLs; explicit paths are kept; a list keeps its order', () => {
    assert.deepEqual(brokerUrls('https://usher.example.com', null), ['wss://usher.example.com/v1/session']);
    assert.deepEqual(brokerUrls('http://127.0.0.1:8080/', null), ['ws://127.0.0.1:8080/v1/session']);
    assert.deepEqual(brokerUrls('wss://a.example/custom/path', null), ['wss://a.example/custom/path']);
    assert.deepEqual(brokerUrls(' https://a.example , https://b.example ', null), [
      'wss://a.example/v1/session',
      'wss://b.example/v1/session',
    ]);
  });

  test('empty ⇒ the origin the script came from; junk and other schemes are left out', () => {
    assert.deepEqual(brokerUrls('', 'https://usher.example.com'), ['wss://usher.example.com/v1/session']);
    assert.deepEqual(brokerUrls('', null), []);
    assert.deepEqual(brokerUrls('not a url, ftp://x.example, https://ok.example', null), [
      'wss://ok.example/v1/session',
    ]);
  });
});
