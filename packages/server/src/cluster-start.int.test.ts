import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { openEnclave } from './bootstrap.js';
import { freshDatabase, TEST_DB, TEST_KEK } from './test-support/harness.js';

// Nodes of a cluster starting together on an empty PostgreSQL database: one installation, not three.
describe(
  'first start of several nodes at once',
  { skip: TEST_DB !== 'postgres' && 'a cluster needs PostgreSQL' },
  () => {
    it('creates one installation that every node opens', async () => {
      const db = await freshDatabase();
      const dirs = [1, 2, 3].map(() => fs.mkdtempSync(path.join(os.tmpdir(), 'enclave-node-')));
      try {
        const nodes = await Promise.all(
          dirs.map((dataDir) =>
            openEnclave({ dataDir, dbUrl: db.dbUrl, organization: 'Acme', env: { ENCLAVE_KEK: TEST_KEK } }),
          ),
        );
        assert.equal(nodes.filter((n) => n.created).length, 1);
        assert.equal(new Set(nodes.map((n) => n.pki.caFingerprint)).size, 1);
        for (const n of nodes) await n.close();
      } finally {
        for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
        await db.drop();
      }
    });
  },
);
