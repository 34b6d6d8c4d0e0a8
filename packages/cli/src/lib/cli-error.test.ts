import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CommanderError } from 'commander';
import { z } from 'zod';
import { ApiError, DeviceStoreError } from '@enclave/client';
import { CliError, flagName, formatErrorJson, formatErrorLine, toErrorInfo } from './cli-error.js';

describe('CLI error formatting', () => {
  it('prints one line: error: <message> (<code>)', () => {
    assert.equal(
      formatErrorLine({ code: 'not_logged_in', message: 'not logged in' }),
      'error: not logged in (not_logged_in)',
    );
    assert.equal(
      formatErrorLine({ code: 'x', message: 'line one\n  line two\n' }),
      'error: line one line two (x)',
    );
  });

  it('prints the JSON error document', () => {
    assert.deepEqual(JSON.parse(formatErrorJson({ code: 'forbidden', message: 'no' })), {
      error: { code: 'forbidden', message: 'no' },
    });
  });

  it('keeps the stable code of API, CLI and device-store errors', () => {
    assert.deepEqual(toErrorInfo(new ApiError(403, 'forbidden', 'missing permission')), {
      code: 'forbidden',
      message: 'missing permission',
    });
    assert.deepEqual(toErrorInfo(new CliError('usage_error', 'bad')), {
      code: 'usage_error',
      message: 'bad',
    });
    assert.equal(toErrorInfo(new DeviceStoreError('device_key_locked', 'locked')).code, 'device_key_locked');
  });

  it('names the flag for zod and commander errors', () => {
    const zodErr = z.object({ passwordFile: z.string() }).safeParse({}).error;
    assert.ok(zodErr);
    const info = toErrorInfo(zodErr);
    assert.equal(info.code, 'usage_error');
    assert.match(info.message, /^--password-file: /);
    assert.deepEqual(
      toErrorInfo(new CommanderError(1, 'commander.unknownOption', "error: unknown option '--x'")),
      { code: 'usage_error', message: "unknown option '--x'" },
    );
    assert.equal(flagName('caFingerprint'), '--ca-fingerprint');
  });

  it('calls anything else internal_error', () => {
    assert.deepEqual(toErrorInfo(new TypeError('boom')), { code: 'internal_error', message: 'boom' });
    assert.deepEqual(toErrorInfo('weird'), { code: 'internal_error', message: 'weird' });
  });
});
