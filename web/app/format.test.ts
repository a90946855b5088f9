// The words people read: banners without server ids or jargon, waiting countdowns, and an
// error sentence that says what to do; quality levels from RTT and loss.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { qualityLevel, qualityText } from './call-metrics.ts';
import { errorText, movedText, reconnectingText, retryReason, waitingText } from './format.ts';

describe('banner and error wording', () => {
  test('moved: how long people were without a server, no server ids', () => {
    const text = movedText({
      from: 'media-2',
      to: 'media-3',
      reason: 'ping-timeout',
      lostAt: 1000,
      detectedAt: 3500,
      rejoinedAt: 4200,
    });
    assert.equal(text, 'Moved to a new server: back in 3.2 s.');
  });

  test('reconnecting: plain words for every reason, no "ping"', () => {
    for (const reason of ['ping-timeout', 'closed', 'migrate', 'something-new']) {
      const text = reconnectingText(reason);
      assert.match(text, /^Reconnecting… /);
      assert.doesNotMatch(text, /ping|something-new/i);
    }
  });

  test('waiting counts whole seconds up, then says now', () => {
    assert.equal(waitingText(2100), 'Waiting for a server… retrying in 3 s');
    assert.equal(waitingText(0), 'Waiting for a server… retrying now');
    assert.equal(retryReason({ code: 'NO_SERVER_AVAILABLE' }), 'No call server is free right now.');
    assert.equal(retryReason({ code: 'closed' }), null);
  });

  test('errors say what to do', () => {
    assert.match(errorText('GAVE_UP'), /press Retry/);
    assert.match(errorText('ROOM_FULL'), /full/);
    assert.match(errorText('UNSUPPORTED_VERSION'), /Reload/);
    assert.match(errorText('INTERNAL', 'INTERNAL'), /Retry\. \(INTERNAL\)$/);
  });
});

describe('connection quality', () => {
  test('levels from RTT and loss', () => {
    assert.equal(qualityLevel(null, null), 'unknown');
    assert.equal(qualityLevel(20, 0), 'good');
    assert.equal(qualityLevel(200, 0), 'fair');
    assert.equal(qualityLevel(20, 0.05), 'fair');
    assert.equal(qualityLevel(500, 0), 'poor');
    assert.equal(qualityLevel(20, 0.2), 'poor');
  });

  test('the text names the figures it knows', () => {
    assert.equal(
      qualityText({ level: 'good', rttMs: 12.4, loss: 0.001, kbps: 480.2 }),
      'Good connection: 12 ms delay, 0.1 % lost, 480 kbit/s',
    );
    assert.equal(
      qualityText({ level: 'unknown', rttMs: null, loss: null, kbps: null }),
      'Connection quality not known yet',
    );
  });
});
