import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import {
  certificateFingerprint,
  createCrl,
  createDeviceCsr,
  createEnterpriseCa,
  CsrError,
  generateEd25519,
  type Issuer,
  isIssuedBy,
  issueDeviceCertificate,
  issueServerCertificate,
  parseCertificate,
  signEd25519,
  verifyDeviceCsr,
  verifyWithCertificate,
  x509,
} from './pki.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-pki-'));
const write = (name: string, text: string) => {
  const p = path.join(tmp, name);
  fs.writeFileSync(p, text);
  return p;
};
const openssl = (...args: string[]) =>
  execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

describe('enterprise PKI', () => {
  let root: Issuer;
  let issuing: Issuer;
  let caFile: string;
  let deviceKeys: CryptoKeyPair;
  let device: x509.X509Certificate;

  before(async () => {
    ({ root, issuing } = await createEnterpriseCa('Acme, Inc.'));
    caFile = write('ca.pem', `${issuing.certificate.toString('pem')}\n${root.certificate.toString('pem')}\n`);
    deviceKeys = await generateEd25519();
    const csr = await createDeviceCsr(deviceKeys, 'device');
    device = await issueDeviceCertificate(issuing, {
      csrPem: csr,
      deviceId: 'd-1',
      userId: 'u-1',
      email: 'alice@example.com',
      organization: 'Acme, Inc.',
      validityDays: 365,
    });
  });

  it('issues an Ed25519 device certificate that `openssl verify` accepts against the chain', () => {
    const out = openssl('verify', '-CAfile', caFile, write('device.pem', device.toString('pem')));
    assert.match(out, /device\.pem: OK/);
  });

  it('names the device and the user, and allows client authentication only', () => {
    const text = openssl('x509', '-in', write('device2.pem', device.toString('pem')), '-noout', '-text');
    assert.match(text, /Subject: CN = d-1, emailAddress = alice@example.com, O = "Acme, Inc."/);
    assert.match(text, /TLS Web Client Authentication/);
    assert.doesNotMatch(text, /TLS Web Server Authentication/);
    assert.match(text, /URI:urn:enclave:device:d-1/);
    assert.match(text, /Public Key Algorithm: ED25519/);
  });

  it('chains root → issuing CA with path length 0, and the fingerprint is SHA-256 of the root DER', () => {
    const rootText = openssl(
      'x509',
      '-in',
      write('root.pem', root.certificate.toString('pem')),
      '-noout',
      '-fingerprint',
      '-sha256',
    );
    const fromOpenssl = rootText.split('=')[1]?.trim().replace(/:/g, '').toLowerCase();
    assert.equal(certificateFingerprint(root.certificate), fromOpenssl);
    assert.match(
      openssl('x509', '-in', write('iss.pem', issuing.certificate.toString('pem')), '-noout', '-text'),
      /CA:TRUE, pathlen:0/,
    );
  });

  it('puts a revoked certificate in a CRL that openssl reads and enforces', async () => {
    const crl = await createCrl(issuing, [{ serial: device.serialNumber, revokedAt: new Date() }], 7);
    const crlFile = write('crl.pem', crl.pem);
    assert.match(
      openssl('crl', '-in', crlFile, '-noout', '-text'),
      new RegExp(`Serial Number: ${device.serialNumber.toUpperCase()}`),
    );
    assert.throws(
      () =>
        openssl(
          'verify',
          '-crl_check',
          '-CRLfile',
          crlFile,
          '-CAfile',
          caFile,
          write('device3.pem', device.toString('pem')),
        ),
      (err: { stdout?: string; stderr?: string }) =>
        /certificate revoked/.test(`${err.stdout ?? ''}${err.stderr ?? ''}`),
    );
    const other = await issueDeviceCertificate(issuing, {
      csrPem: await createDeviceCsr(await generateEd25519(), 'x'),
      deviceId: 'd-2',
      userId: 'u-1',
      email: 'alice@example.com',
      organization: 'Acme',
      validityDays: 30,
    });
    assert.match(
      openssl(
        'verify',
        '-crl_check',
        '-CRLfile',
        crlFile,
        '-CAfile',
        caFile,
        write('other.pem', other.toString('pem')),
      ),
      /OK/,
    );
  });

  it('issues a P-256 TLS server certificate under the issuing CA', async () => {
    const tls = await issueServerCertificate(issuing, ['localhost', '127.0.0.1']);
    const f = write('tls.pem', tls.certificate.toString('pem'));
    assert.match(openssl('verify', '-CAfile', caFile, f), /OK/);
    const text = openssl('x509', '-in', f, '-noout', '-text');
    assert.match(text, /DNS:localhost/);
    assert.match(text, /IP Address:127\.0\.0\.1/);
    assert.match(text, /prime256v1/);
  });

  it('recognises its own certificates and refuses a self-signed or foreign one', async () => {
    assert.equal(await isIssuedBy(device, issuing.certificate), true);
    const foreign = await createEnterpriseCa('Other Corp');
    const foreignDevice = await issueDeviceCertificate(foreign.issuing, {
      csrPem: await createDeviceCsr(await generateEd25519(), 'x'),
      deviceId: 'd-9',
      userId: 'u-9',
      email: 'eve@example.com',
      organization: 'Other',
      validityDays: 30,
    });
    assert.equal(await isIssuedBy(foreignDevice, issuing.certificate), false);
    assert.equal(
      await isIssuedBy(device, issuing.certificate, new Date(Date.now() + 400 * 86_400_000)),
      false,
      'expired',
    );
  });

  it('verifies signatures made with the certified key only', async () => {
    const data = Buffer.from('challenge');
    const sig = await signEd25519(deviceKeys.privateKey, data);
    assert.equal(await verifyWithCertificate(device, data, sig), true);
    assert.equal(await verifyWithCertificate(device, Buffer.from('other'), sig), false);
    assert.equal(await verifyWithCertificate(device, data, sig.subarray(0, 10)), false);
  });

  it('rejects a CSR that is garbage, not Ed25519, or whose signature does not match (no proof of possession)', async () => {
    await assert.rejects(verifyDeviceCsr('not a csr'), CsrError);
    const ecKeys = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
      'sign',
      'verify',
    ]);
    const ecCsr = await x509.Pkcs10CertificateRequestGenerator.create({
      name: 'CN=x',
      keys: ecKeys,
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    });
    await assert.rejects(verifyDeviceCsr(ecCsr.toString('pem')), /Ed25519/);
    // Swap the public key for another one: the signature no longer proves possession.
    const good = new x509.Pkcs10CertificateRequest(await createDeviceCsr(deviceKeys, 'x'));
    const der = Buffer.from(good.rawData);
    const otherPub = Buffer.from(await crypto.subtle.exportKey('raw', (await generateEd25519()).publicKey));
    const ownPub = Buffer.from(await crypto.subtle.exportKey('raw', deviceKeys.publicKey));
    const forged = Buffer.from(der);
    forged.set(otherPub, der.indexOf(ownPub));
    await assert.rejects(
      verifyDeviceCsr(new x509.Pkcs10CertificateRequest(forged).toString('pem')),
      /proof of possession/,
    );
    assert.ok(parseCertificate(device.toString('pem')));
  });
});
