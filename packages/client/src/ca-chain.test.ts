import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { certificateFingerprint, createEnterpriseCa } from '@enclave/crypto';
import { isFingerprint, joinPem, normalizeFingerprint, splitPem, verifyCaChain } from './ca-chain.js';
import { ApiError } from './transport.js';

describe('CA chain helpers', () => {
  it('normalises fingerprints as operators type them', () => {
    assert.equal(normalizeFingerprint('AB:CD ef'), 'abcdef');
    assert.ok(isFingerprint('AB:'.repeat(31) + 'AB'));
    assert.ok(!isFingerprint('abc'));
  });

  it('verifies a chain and pins its root', async () => {
    const { root, issuing } = await createEnterpriseCa('Org');
    const chain = [issuing.certificate.toString('pem'), root.certificate.toString('pem')];
    const fp = certificateFingerprint(root.certificate);
    assert.equal((await verifyCaChain(chain, fp)).caFingerprint, fp);
    await assert.rejects(
      verifyCaChain(chain, '11'.repeat(32)),
      (e: unknown) => e instanceof ApiError && e.code === 'server_untrusted',
    );
    const other = await createEnterpriseCa('Other');
    await assert.rejects(
      verifyCaChain([issuing.certificate.toString('pem'), other.root.certificate.toString('pem')]),
      (e: unknown) => e instanceof ApiError && e.code === 'certificate_invalid',
    );
    assert.deepEqual(
      splitPem(joinPem(chain)).map((p) => p.trim()),
      chain.map((p) => p.trim()),
    );
  });
});
