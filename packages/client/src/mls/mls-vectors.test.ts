// The official MLS passive-client vectors (mlswg/mls-implementations, test-vectors.md §Passive
// Client Scenarios) fed to ts-mls 1.6.4: join from the Welcome with the given private keys, then
// apply every epoch's proposals and commit, comparing epoch authenticators (RFC 9420 §8.7).
// Runs when ../shared/mls-test-vectors exists next to the repository (or ENCLAVE_MLS_VECTORS_DIR).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import {
  acceptAll,
  bytesToBase64,
  decodeMlsMessage,
  getCiphersuiteFromName,
  joinGroup,
  makePskIndex,
  processPrivateMessage,
  processPublicMessage,
  type CiphersuiteImpl,
  type ClientState,
} from 'ts-mls';
import { getCiphersuiteNameFromId, type CiphersuiteId } from 'ts-mls/crypto/ciphersuite.js';
import { decodeRatchetTree } from 'ts-mls/ratchetTree.js';
import { z } from 'zod';
import { ciphersuiteImpl } from './ts-mls-support.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');
const DIR = process.env.ENCLAVE_MLS_VECTORS_DIR ?? path.resolve(REPO, '../shared/mls-test-vectors');
/** Enclave runs cipher suite 1 only; ENCLAVE_MLS_VECTORS_ALL_SUITES=1 tries every suite ts-mls can load. */
const ALL_SUITES = process.env.ENCLAVE_MLS_VECTORS_ALL_SUITES === '1';

/**
 * Cases ts-mls 1.6.4 cannot pass for a known reason; a matching failure counts as a skip with the
 * reason, anything else fails the test.
 */
const KNOWN_LIMITATIONS: { pattern: RegExp; reason: string }[] = [
  {
    pattern: /external_senders/,
    reason:
      'ts-mls 1.6.4 mis-encodes/decodes the external_senders extension (Enclave uses no external senders)',
  },
];

/** Passing cases observed with ts-mls 1.6.4 on the 2026-04-23 snapshot: a regression fails the test. */
const FLOOR: Record<string, number> = {
  'passive-client-handling-commit.json': 13,
  'passive-client-random.json': 1,
  'passive-client-welcome.json': 8,
  'interop-passive/application.json': 6,
  'interop-passive/branch.json': 32,
  'interop-passive/commit.json': 42,
  'interop-passive/external_join.json': 6,
  'interop-passive/external_proposals.json': 6,
  'interop-passive/reinit.json': 48,
  'interop-passive/welcome_join.json': 8,
};

const Hex = z.string().regex(/^([0-9a-f]{2})*$/i);
const PassiveClientCase = z.object({
  cipher_suite: z.number().int(),
  external_psks: z.array(z.object({ psk_id: Hex, psk: Hex })).nullish(),
  key_package: Hex,
  signature_priv: Hex,
  encryption_priv: Hex,
  init_priv: Hex,
  welcome: Hex,
  ratchet_tree: Hex.nullish(),
  initial_epoch_authenticator: Hex,
  epochs: z.array(z.object({ proposals: z.array(Hex), commit: Hex, epoch_authenticator: Hex })),
});
type PassiveClientCase = z.infer<typeof PassiveClientCase>;

const hex = (h: string) => new Uint8Array(Buffer.from(h, 'hex'));
const sameBytes = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));

function message(h: string) {
  const out = decodeMlsMessage(hex(h), 0);
  if (!out) throw new Error('vector message does not decode');
  return out[0];
}

async function runCase(t: PassiveClientCase, cs: CiphersuiteImpl): Promise<void> {
  const kp = message(t.key_package);
  const welcome = message(t.welcome);
  if (kp.wireformat !== 'mls_key_package' || welcome.wireformat !== 'mls_welcome')
    throw new Error('key_package / welcome have the wrong wire format');
  const psks = Object.fromEntries(
    (t.external_psks ?? []).map((p) => [bytesToBase64(hex(p.psk_id)), hex(p.psk)]),
  );
  const tree = t.ratchet_tree ? decodeRatchetTree(hex(t.ratchet_tree), 0)?.[0] : undefined;
  let state: ClientState = await joinGroup(
    welcome.welcome,
    kp.keyPackage,
    {
      initPrivateKey: hex(t.init_priv),
      hpkePrivateKey: hex(t.encryption_priv),
      signaturePrivateKey: hex(t.signature_priv),
    },
    makePskIndex(undefined, psks),
    cs,
    tree,
  );
  assert.ok(
    sameBytes(state.keySchedule.epochAuthenticator, hex(t.initial_epoch_authenticator)),
    'initial epoch authenticator',
  );
  for (const [i, epoch] of t.epochs.entries()) {
    for (const h of [...epoch.proposals, epoch.commit]) {
      const m = message(h);
      // processMessage() of 1.6.4 drops the PSK index for PrivateMessages; call the two paths directly.
      const idx = makePskIndex(state, psks);
      if (m.wireformat === 'mls_public_message')
        state = (await processPublicMessage(state, m.publicMessage, idx, cs, acceptAll)).newState;
      else if (m.wireformat === 'mls_private_message')
        state = (await processPrivateMessage(state, m.privateMessage, idx, cs, acceptAll)).newState;
      else throw new Error(`unexpected ${m.wireformat} in epoch ${i}`);
    }
    assert.ok(
      sameBytes(state.keySchedule.epochAuthenticator, hex(epoch.epoch_authenticator)),
      `epoch ${i} authenticator`,
    );
  }
}

interface FileResult {
  pass: number;
  fail: number;
  skip: number;
  reasons: Map<string, number>;
  failures: string[];
}

const files = fs.existsSync(DIR)
  ? [
      ...fs
        .readdirSync(DIR)
        .filter((f) => /^passive-client-.*\.json$/.test(f))
        .sort(),
      ...(fs.existsSync(path.join(DIR, 'interop-passive'))
        ? fs
            .readdirSync(path.join(DIR, 'interop-passive'))
            .filter((f) => f.endsWith('.json'))
            .sort()
            .map((f) => `interop-passive/${f}`)
        : []),
    ]
  : [];
const results = new Map<string, FileResult>();
const suiteImpls = new Map<number, Promise<CiphersuiteImpl | string>>();

function suite(id: number): Promise<CiphersuiteImpl | string> {
  let p = suiteImpls.get(id);
  if (!p) {
    p = (async () => {
      if (id !== 1 && !ALL_SUITES)
        return 'cipher suites other than 1: not used by Enclave (ENCLAVE_MLS_VECTORS_ALL_SUITES=1 runs them)';
      try {
        // The engine's own suite implementation (noble hash), so the vectors cover what it runs.
        return await ciphersuiteImpl(getCiphersuiteFromName(getCiphersuiteNameFromId(id as CiphersuiteId)));
      } catch (err) {
        // Suites 2–7 need optional peer dependencies (@noble/curves, @hpke/…) Enclave does not install.
        return `cipher suite ${id} cannot load: ${(err as Error).message}`;
      }
    })();
    suiteImpls.set(id, p);
  }
  return p;
}

describe(
  'official MLS passive-client vectors on ts-mls 1.6.4',
  { skip: files.length === 0 ? `no vectors at ${DIR}` : false },
  () => {
    after(() => {
      const w = Math.max(...[...results.keys()].map((f) => f.length));
      console.log(`# vectors: ${'file'.padEnd(w)}  pass/fail/skip   (dir ${DIR})`);
      for (const [f, r] of results) {
        console.log(`# vectors: ${f.padEnd(w)}  ${r.pass}/${r.fail}/${r.skip}`);
        for (const [why, n] of r.reasons) console.log(`# vectors:   skip ${n}: ${why}`);
        for (const why of r.failures) console.log(`# vectors:   FAIL ${why}`);
      }
    });

    for (const file of files) {
      it(`passes ${file}`, async () => {
        const cases = z
          .array(PassiveClientCase)
          .parse(JSON.parse(fs.readFileSync(path.join(DIR, file), 'utf8')));
        const r: FileResult = { pass: 0, fail: 0, skip: 0, reasons: new Map(), failures: [] };
        results.set(file, r);
        const skip = (why: string) => {
          r.skip++;
          r.reasons.set(why, (r.reasons.get(why) ?? 0) + 1);
        };
        for (const [i, c] of cases.entries()) {
          const cs = await suite(c.cipher_suite);
          if (typeof cs === 'string') {
            skip(cs);
            continue;
          }
          try {
            await runCase(c, cs);
            r.pass++;
          } catch (err) {
            const msg = err instanceof Error ? err.message : String(err);
            const known = KNOWN_LIMITATIONS.find((k) => k.pattern.test(msg));
            if (known) skip(known.reason);
            else {
              r.fail++;
              r.failures.push(`case ${i} (suite ${c.cipher_suite}): ${msg}`);
            }
          }
        }
        assert.deepEqual(r.failures, [], `unexpected failures in ${file}`);
        const floor = FLOOR[file];
        if (floor !== undefined)
          assert.ok(r.pass >= floor, `${file}: ${r.pass} passing cases, expected at least ${floor}`);
      });
    }
  },
);
