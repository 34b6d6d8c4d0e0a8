import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import SQLite from 'better-sqlite3';
import pg from 'pg';
import { sqlitePath } from '../../platform/db/database.js';
import { TEST_DB, type TestEnclave, testEnclave } from '../../test-support/harness.js';

/** Runs SQL through a separate database client, the way someone tampering with the database would. */
async function tamper(t: TestEnclave, statement: string): Promise<void> {
  if (TEST_DB === 'postgres') {
    const c = new pg.Client({ connectionString: t.dbUrl });
    await c.connect();
    await c.query(statement);
    await c.end();
  } else {
    const db = new SQLite(sqlitePath(t.dataDir));
    db.exec(statement);
    db.close();
  }
}

describe('GET /api/v1/audit/verify', () => {
  let t: TestEnclave;
  let token: string;
  before(async () => {
    t = await testEnclave();
    token = await t.adminToken('security-admin');
    for (const name of ['Sales', 'Legal', 'Finance'])
      await t.inject('POST', '/api/v1/groups', { token, body: { name } });
  });
  after(() => t.close());

  const verify = async () =>
    (await t.inject('GET', '/api/v1/audit/verify', { token })).json as {
      ok: boolean;
      entries: number;
      firstBadSeq: number | null;
      reason: string | null;
    };

  it('verifies an untouched chain', async () => {
    const r = await verify();
    assert.equal(r.ok, true);
    assert.ok(r.entries >= 5);
  });

  it('names the row that was edited with a database client', async () => {
    const entries = await t.inject('GET', '/api/v1/audit?action=group.created', { token });
    const legal = (entries.json.items as { seq: number; target: string }[]).find((e) => e.target === 'Legal');
    assert.ok(legal);
    await tamper(t, `UPDATE audit_log SET target = 'Marketing' WHERE seq = ${legal.seq}`);
    const r = await verify();
    assert.equal(r.ok, false);
    assert.equal(r.firstBadSeq, legal.seq);
    assert.match(r.reason ?? '', /modified/);
    await tamper(t, `UPDATE audit_log SET target = 'Legal' WHERE seq = ${legal.seq}`);
    assert.equal((await verify()).ok, true, 'restoring the original value restores the chain');
  });

  it('detects a recomputed hash: the next entry no longer links to it', async () => {
    const { items } = (await t.inject('GET', '/api/v1/audit?limit=500', { token })).json as {
      items: { seq: number }[];
    };
    const seq = items[items.length - 2]?.seq ?? 2;
    await tamper(t, `UPDATE audit_log SET hash = '${'a'.repeat(64)}' WHERE seq = ${seq}`);
    const r = await verify();
    assert.equal(r.ok, false);
    assert.equal(r.firstBadSeq, seq);
  });

  it('names a deleted row, and notices rows cut from the end', async () => {
    const t2 = await testEnclave();
    try {
      const tok = await t2.adminToken('security-admin');
      for (const name of ['A', 'B', 'C'])
        await t2.inject('POST', '/api/v1/groups', { token: tok, body: { name } });
      await tamper(t2, 'DELETE FROM audit_log WHERE seq = 2');
      let r = (await t2.inject('GET', '/api/v1/audit/verify', { token: tok })).json;
      assert.equal(r.ok, false);
      assert.equal(r.firstBadSeq, 2);
      assert.match(r.reason, /missing/);
      const t3 = await testEnclave();
      try {
        const tok3 = await t3.adminToken('security-admin');
        for (const name of ['A', 'B'])
          await t3.inject('POST', '/api/v1/groups', { token: tok3, body: { name } });
        // The verify request itself is not audited, so the last row is the last group.
        await tamper(t3, 'DELETE FROM audit_log WHERE seq = (SELECT MAX(seq) FROM audit_log)');
        r = (await t3.inject('GET', '/api/v1/audit/verify', { token: tok3 })).json;
        assert.equal(r.ok, false);
        assert.match(r.reason, /removed from the end/);
      } finally {
        await t3.close();
      }
    } finally {
      await t2.close();
    }
  });

  it('is refused to roles without audit:read', async () => {
    const helpdesk = await t.adminToken('senior-helpdesk');
    const r = await t.inject('GET', '/api/v1/audit/verify', { token: helpdesk });
    assert.equal(r.status, 403);
    assert.equal(r.json.error.code, 'forbidden');
  });
});
