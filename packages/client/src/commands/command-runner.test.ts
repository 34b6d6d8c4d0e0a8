import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import {
  createEnterpriseCa,
  importPkcs8,
  type Issuer,
  issueCommandSignerCertificate,
  signEd25519,
  type x509,
} from '@enclave/crypto';
import { type CommandEnvelope, commandSigningInput, type SignedCommand } from '@enclave/protocol';
import { CommandRunner } from './command-runner.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-cmd-'));
const DEVICE = '11111111-2222-4333-8444-555555555555';

describe('CommandRunner (device side of remote commands)', () => {
  let issuing: Issuer;
  let signer: { certificate: x509.X509Certificate; key: CryptoKey };
  const reports: [string, string, string | undefined][] = [];
  const done: string[] = [];
  let n = 0;
  const runner = () =>
    new CommandRunner({
      deviceId: DEVICE,
      issuingCaPem: issuing.certificate.toString('pem'),
      nonceFile: path.join(dir, 'nonces.json'),
      handlers: {
        lock: (m) => Promise.resolve(void done.push(`lock:${m ?? ''}`)),
        unlock: () => Promise.resolve(void done.push('unlock')),
        wipeWork: () => Promise.resolve(void done.push('wipe-work')),
        wipe: () => Promise.resolve(void done.push('wipe')),
      },
      report: (id, state, reason) => Promise.resolve(void reports.push([id, state, reason])),
    });

  async function command(
    over: Partial<CommandEnvelope> = {},
    key = signer.key,
    cert = signer.certificate,
  ): Promise<SignedCommand> {
    const env: CommandEnvelope = {
      v: 1,
      commandId: `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}`,
      deviceId: DEVICE,
      type: 'lock',
      params: { message: 'Call IT' },
      nonce: `nonce-${n}-${'x'.repeat(16)}`,
      issuedAt: new Date().toISOString(),
      expiresAt: new Date(Date.now() + 3600_000).toISOString(),
      ...over,
    };
    const envelope = JSON.stringify(env);
    const signature = (await signEd25519(key, Buffer.from(commandSigningInput(envelope)))).toString(
      'base64url',
    );
    return {
      commandId: env.commandId,
      type: env.type,
      envelope,
      signature,
      signerCertificate: cert.toString('pem'),
    };
  }

  before(async () => {
    ({ issuing } = await createEnterpriseCa('Acme'));
    const s = await issueCommandSignerCertificate(issuing, 'Acme');
    signer = { certificate: s.certificate, key: await importPkcs8(s.privateKeyPkcs8, 'ed25519') };
  });

  it('runs a genuine command and reports acknowledged, then done', async () => {
    const c = await command();
    assert.equal(await runner().run(c), 'done');
    assert.deepEqual(done.slice(-1), ['lock:Call IT']);
    assert.deepEqual(reports.slice(-2), [
      [c.commandId, 'acknowledged', undefined],
      [c.commandId, 'done', undefined],
    ]);
  });

  const refused = async (c: SignedCommand, reason: string) => {
    const before = done.length;
    assert.equal(await runner().run(c), 'failed');
    assert.equal(done.length, before, 'nothing was executed');
    assert.deepEqual(reports.slice(-1), [[c.commandId, 'failed', reason]]);
  };

  it('refuses a forged signature', async () => {
    const c = await command();
    const sig = Buffer.from(c.signature, 'base64url');
    sig[5] = (sig[5] ?? 0) ^ 1;
    await refused({ ...c, signature: sig.toString('base64url') }, 'signature_invalid');
  });

  it('refuses an envelope changed after signing', async () => {
    const c = await command();
    await refused({ ...c, envelope: c.envelope.replace('Call IT', 'Call me') }, 'signature_invalid');
  });

  it('refuses a replayed nonce', async () => {
    const c = await command();
    assert.equal(await runner().run(c), 'done');
    await refused(c, 'replayed_nonce');
  });

  it('refuses a command past its expiry', async () => {
    await refused(await command({ expiresAt: new Date(Date.now() - 1000).toISOString() }), 'expired');
  });

  it('refuses a command for another device', async () => {
    await refused(await command({ deviceId: '99999999-2222-4333-8444-555555555555' }), 'wrong_device');
  });

  it('refuses a command signed by a key that is not the enterprise command signer', async () => {
    // A device certificate of the same CA is not a command signer (no SAN marker) …
    const other = await createEnterpriseCa('Evil');
    const evil = await issueCommandSignerCertificate(other.issuing, 'Evil');
    await refused(
      await command({}, await importPkcs8(evil.privateKeyPkcs8, 'ed25519'), evil.certificate),
      'signer_untrusted',
    );
  });
});
