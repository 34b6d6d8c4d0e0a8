import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { formatDuration, parseDuration } from './duration.js';
import { CliError } from './cli-error.js';

describe('parseDuration', () => {
  it('reads seconds, minutes, hours, days and weeks', () => {
    assert.equal(parseDuration('90s'), 90);
    assert.equal(parseDuration('10m'), 600);
    assert.equal(parseDuration('24h'), 86_400);
    assert.equal(parseDuration('7d'), 604_800);
    assert.equal(parseDuration('2w'), 1_209_600);
  });

  it('adds up combined units and takes a bare number as seconds', () => {
    assert.equal(parseDuration('1d12h'), 129_600);
    assert.equal(parseDuration('1h30m15s'), 5415);
    assert.equal(parseDuration('3600'), 3600);
    assert.equal(parseDuration(' 24H '), 86_400);
  });

  it('rejects anything else with a usage error that shows the format', () => {
    for (const bad of ['', 'h', '24 hours', '1.5h', '-1h', '3y', '10m-']) {
      assert.throws(
        () => parseDuration(bad),
        (e: unknown) => e instanceof CliError && e.code === 'usage_error' && /e\.g\. 90s/.test(e.message),
        bad,
      );
    }
  });
});

describe('formatDuration', () => {
  it('uses the largest exact unit', () => {
    assert.equal(formatDuration(60), '1m');
    assert.equal(formatDuration(86_400 * 30), '30d');
    assert.equal(formatDuration(90), '90s');
    assert.equal(formatDuration(1_209_600), '2w');
  });
});
