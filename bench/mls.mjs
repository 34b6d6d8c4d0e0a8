// Scenario `mls`: the device-side MLS cost of membership changes (ts-mls 1.6.4 behind the Enclave
// engine, cipher suite 1, real enterprise x509 credentials). For each group size N: the time a
// member takes to create an add-one-member commit, the time another member takes to process it,
// the same for removing one member, and the Welcome a joiner receives. No server involved.
import { randomBytes } from 'node:crypto';
import { createMlsEngine } from '@enclave/client';
import {
  createDeviceCsr,
  createEnterpriseCa,
  exportPkcs8,
  generateEd25519,
  issueDeviceCertificate,
} from '@enclave/crypto';
import { machine, percentile, printTable, size, writeResult } from './lib.mjs';

async function enterprise() {
  const { root, issuing } = await createEnterpriseCa('Bench');
  return {
    issuing,
    issuingPem: issuing.certificate.toString('pem'),
    trust: { root: root.certificate.toString('pem'), isRevoked: () => false },
  };
}

async function device(ent, i) {
  const keys = await generateEd25519();
  const deviceId = `bench-device-${i}`;
  const cert = await issueDeviceCertificate(ent.issuing, {
    csrPem: await createDeviceCsr(keys, deviceId),
    deviceId,
    userId: `bench-user-${i}`,
    email: `user${i}@bench.test`,
    organization: 'Bench',
    validityDays: 30,
  });
  return createMlsEngine({
    credentials: {
      privateKeyPkcs8: new Uint8Array(await exportPkcs8(keys.privateKey)),
      certificateChain: [cert.toString('pem'), ent.issuingPem],
    },
    trust: ent.trust,
    storageKey: randomBytes(32),
  });
}

const time = async (fn) => {
  const t = performance.now();
  const out = await fn();
  return [performance.now() - t, out];
};
const median = (xs) =>
  percentile(
    [...xs].sort((a, b) => a - b),
    50,
  );

/** One group of `size` members; `rounds` adds and removes of one member each, timed. */
async function measure(ent, size, rounds) {
  const t0 = performance.now();
  const [creator, observer, ...rest] = await Promise.all(
    Array.from({ length: size }, (_, i) => device(ent, i)),
  );
  const gid = `bench-${size}`;
  await creator.createGroup(gid);
  const kps = [];
  for (const e of [observer, ...rest]) kps.push((await e.generateKeyPackages(1))[0]);
  const [buildMs, initial] = await time(() => creator.addMembers(gid, kps));
  await creator.applyPendingCommit(gid);
  const [joinMs] = await time(() => observer.joinFromWelcome(initial.welcome));
  const setupSeconds = (performance.now() - t0) / 1000;

  const add = { commitMs: [], applyMs: [], processMs: [], joinMs: [], welcomeBytes: [], commitBytes: [] };
  const remove = { commitMs: [], processMs: [], commitBytes: [] };
  for (let r = 0; r < rounds; r++) {
    const joiner = await device(ent, size + r);
    const [kp] = await joiner.generateKeyPackages(1);
    const [commitMs, pending] = await time(() => creator.addMembers(gid, [kp]));
    const [applyMs] = await time(() => creator.applyPendingCommit(gid));
    const [processMs] = await time(() => observer.processHandshake(gid, pending.commit));
    const [jMs] = await time(() => joiner.joinFromWelcome(pending.welcome));
    add.commitMs.push(commitMs);
    add.applyMs.push(applyMs);
    add.processMs.push(processMs);
    add.joinMs.push(jMs);
    add.welcomeBytes.push(pending.welcome.length);
    add.commitBytes.push(pending.commit.length);
    // Remove the member just added: a commit with an UpdatePath (RFC 9420 §12.4).
    const [rmMs, rm] = await time(() =>
      creator.removeMembers(gid, { deviceIds: [`bench-device-${size + r}`] }),
    );
    await creator.applyPendingCommit(gid);
    const [rmProcessMs] = await time(() => observer.processHandshake(gid, rm.commit));
    remove.commitMs.push(rmMs);
    remove.processMs.push(rmProcessMs);
    remove.commitBytes.push(rm.commit.length);
  }
  return {
    size,
    rounds,
    setupSeconds,
    initialAddOfAllMs: buildMs,
    initialJoinMs: joinMs,
    addOne: {
      commitMsMedian: median(add.commitMs),
      applyMsMedian: median(add.applyMs),
      processMsMedian: median(add.processMs),
      joinMsMedian: median(add.joinMs),
      welcomeBytes: median(add.welcomeBytes),
      commitBytes: median(add.commitBytes),
      samples: add,
    },
    removeOne: {
      commitMsMedian: median(remove.commitMs),
      processMsMedian: median(remove.processMs),
      commitBytes: median(remove.commitBytes),
      samples: remove,
    },
  };
}

export async function mlsScenario({
  sizes = (process.env.BENCH_MLS_SIZES ?? size('10,100,1000', '10,30')).split(',').map(Number),
  rounds = Number(process.env.BENCH_MLS_ROUNDS ?? size(5, 2)),
} = {}) {
  const ent = await enterprise();
  const results = [];
  for (const size of sizes) {
    const r = await measure(ent, size, size >= 1000 ? Math.min(rounds, 3) : rounds);
    results.push(r);
    printTable(`mls: group of ${size} (median of ${r.rounds})`, [
      ['add one: commit (creator)', `${r.addOne.commitMsMedian.toFixed(1)} ms`],
      ['add one: process (other member)', `${r.addOne.processMsMedian.toFixed(1)} ms`],
      ['add one: join from Welcome (new member)', `${r.addOne.joinMsMedian.toFixed(1)} ms`],
      [
        'add one: Welcome / commit size',
        `${(r.addOne.welcomeBytes / 1024).toFixed(1)} KiB / ${r.addOne.commitBytes} B`,
      ],
      [
        'remove one: commit / process',
        `${r.removeOne.commitMsMedian.toFixed(1)} / ${r.removeOne.processMsMedian.toFixed(1)} ms`,
      ],
      ['setup (certs, engines, initial add + join)', `${r.setupSeconds.toFixed(1)} s`],
    ]);
  }
  const result = {
    scenario: 'mls',
    machine: machine(),
    library: 'ts-mls 1.6.4',
    cipherSuite: 'MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519',
    credential: 'x509 chain (device certificate + issuing CA), validated by the enterprise AS',
    groups: results,
    note: 'Single process, one operation at a time. Add commits carry no UpdatePath (RFC 9420 §12.4 allows it for Add-only); remove commits do. The Welcome carries the ratchet tree (ratchet_tree extension), so it grows with the group.',
  };
  console.log(`  → ${writeResult('mls', result)}`);
  return result;
}

if (import.meta.url === `file://${process.argv[1]}`) await mlsScenario();
