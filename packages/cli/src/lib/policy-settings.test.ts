import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CliError } from './cli-error.js';
import { settingsFromJson, settingsPatch } from './policy-settings.js';

describe('policy settings from flags', () => {
  it('reads numbers, booleans, lists and per-platform OS minimums', () => {
    assert.deepEqual(
      settingsPatch({ autoLockMinutes: 3 }, [
        'minPasscodeLength=8',
        'screenshotsAllowed=false',
        'allowedPlatforms=["ios","android"]',
        'minOsVersion.ios=17.0',
        'minClientVersion=1.2.0',
      ]),
      {
        autoLockMinutes: 3,
        minPasscodeLength: 8,
        screenshotsAllowed: false,
        allowedPlatforms: ['ios', 'android'],
        minOsVersion: { ios: '17.0' },
        minClientVersion: '1.2.0',
      },
    );
  });

  it('names an unknown setting or a bad value as a usage error', () => {
    assert.throws(
      () => settingsPatch({}, ['bluetooth=false']),
      (e: unknown) => e instanceof CliError && /unknown setting bluetooth/.test(e.message),
    );
    assert.throws(
      () => settingsPatch({}, ['minPasscodeLength=2']),
      (e: unknown) =>
        e instanceof CliError && e.code === 'usage_error' && /minPasscodeLength/.test(e.message),
    );
    assert.throws(() => settingsPatch({}, ['novalue']), CliError);
  });

  it('accepts a bare settings file or one with a document field', () => {
    assert.deepEqual(settingsFromJson('{"rootedAllowed":true}', 'p.json'), { rootedAllowed: true });
    assert.deepEqual(settingsFromJson('{"name":"x","document":{"rootedAllowed":true}}', 'p.json'), {
      rootedAllowed: true,
    });
    assert.throws(() => settingsFromJson('[1]', 'p.json'), CliError);
  });
});
