// scratch: profile one join at N members
import { Session } from 'node:inspector/promises';
import fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import { createMlsEngine } from '@enclave/client';
import { createDeviceCsr, createEnterpriseCa, exportPkcs8, generateEd25519, issueDeviceCertificate } from '@enclave/crypto';
const N = Number(process.argv[2] ?? 1000);
const { root, issuing } = await createEnterpriseCa('Bench');
const ent = { issuing, issuingPem: issuing.certificate.toString('pem'), trust: { root: root.certificate.toString('pem'), isRevoked: () => false } };
async function device(i) {
  const keys = await generateEd25519();
  const deviceId = `d-${i}`;
  const cert = await issueDeviceCertificate(ent.issuing, { csrPem: await createDeviceCsr(keys, deviceId), deviceId, userId: `u${i}`, email: `u${i}@b.test`, organization: 'B', validityDays: 30 });
  return createMlsEngine({ credentials: { privateKeyPkcs8: new Uint8Array(await exportPkcs8(keys.privateKey)), certificateChain: [cert.toString('pem'), ent.issuingPem] }, trust: ent.trust, storageKey: randomBytes(32) });
}
const creator = await device(0);
await creator.createGroup('g');
const kps = [];
for (let i = 1; i < N; i++) kps.push((await (await device(i)).generateKeyPackages(1))[0]);
let t = performance.now();
const p = await creator.addMembers('g', kps); await creator.applyPendingCommit('g');
console.log('initial add', (performance.now() - t).toFixed(0));
if (process.argv[3] === 'update') { await creator.commitUpdate('g'); await creator.applyPendingCommit('g'); }
const j = await device(N + 1);
const [kp] = await j.generateKeyPackages(1);
const p2 = await creator.addMembers('g', [kp]); await creator.applyPendingCommit('g');
const s = new Session(); s.connect(); await s.post('Profiler.enable'); await s.post('Profiler.start');
t = performance.now();
await j.joinFromWelcome(p2.welcome);
console.log('join', (performance.now() - t).toFixed(0));
const { profile } = await s.post('Profiler.stop');
fs.writeFileSync('/tmp/mlsscratch/join.cpuprofile', JSON.stringify(profile));
