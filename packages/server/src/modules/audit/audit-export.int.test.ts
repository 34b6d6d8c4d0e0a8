import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { assertError } from '../../test-support/expect.js';
import { type TestEnclave, testEnclave } from '../../test-support/harness.js';

/** A small RFC 4180 reader, so the test checks what a spreadsheet would see. */
function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      row.push(cell);
      cell = '';
    } else if (c === '\r' && text[i + 1] === '\n') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
      i++;
    } else cell += c;
  }
  return rows;
}

describe('audit log filters and CSV export', () => {
  let t: TestEnclave;
  let auditor: string;
  let admin: string;

  before(async () => {
    t = await testEnclave();
    admin = await t.adminToken('security-admin', 'sec@example.com');
    auditor = await t.adminToken('auditor', 'aud@example.com');
    // Names a spreadsheet would run as formulas, and ones that need quoting.
    for (const name of ['=HYPERLINK("http://evil")', '+1', '-2', '@SUM(A1)', 'Sales, "EMEA"\nteam'])
      assert.equal((await t.inject('POST', '/api/v1/groups', { token: admin, body: { name } })).status, 201);
  });
  after(() => t.close());

  const list = async (query: string) => {
    const r = await t.inject('GET', `/api/v1/audit?${query}`, { token: auditor });
    assert.equal(r.status, 200, r.text);
    return r.json as { total: number; items: { action: string; actorLabel: string; target: string }[] };
  };

  it('filters the list by action, actor, target and date range', async () => {
    const groups = await list('action=group.created');
    assert.equal(groups.total, 5);
    const bySec = await list('actor=sec@example.com&action=group.created');
    assert.equal(bySec.total, 5);
    assert.equal((await list('actor=aud@example.com&action=group.created')).total, 0);
    assert.equal((await list('target=%2B1')).total, 1);
    const today = new Date().toISOString().slice(0, 10);
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    assert.equal((await list(`action=group.created&from=${today}&to=${tomorrow}`)).total, 5);
    assert.equal((await list(`action=group.created&to=${today}`)).total, 0);
    assert.equal((await list(`action=group.created&from=${tomorrow}`)).total, 0);
  });

  it('rejects a malformed date with 400 validation_failed', async () => {
    for (const q of ['from=yesterday', 'to=2026-13-45', 'from=2026-01-01%27%20or%201=1'])
      assertError(await t.inject('GET', `/api/v1/audit?${q}`, { token: auditor }), 400, 'validation_failed');
    assertError(
      await t.inject('GET', '/api/v1/audit/export.csv?from=soon', { token: auditor }),
      400,
      'validation_failed',
    );
  });

  it('exports the filtered log as CSV, quoted where needed and safe from formula injection', async () => {
    const r = await t.inject('GET', '/api/v1/audit/export.csv?action=group.created', { token: auditor });
    assert.equal(r.status, 200, r.text);
    assert.match(String(r.headers['content-type']), /^text\/csv/);
    assert.match(String(r.headers['content-disposition']), /attachment; filename="enclave-audit-.*\.csv"/);
    const rows = parseCsv(r.text);
    assert.deepEqual(rows[0], [
      'seq',
      'at',
      'actor_type',
      'actor_id',
      'actor',
      'action',
      'target',
      'outcome',
      'ip',
      'details',
      'hash',
    ]);
    assert.equal(rows.length, 6);
    const targets = rows.slice(1).map((row) => row[6]);
    assert.deepEqual(targets, [
      'Sales, "EMEA"\nteam',
      "'@SUM(A1)",
      "'-2",
      "'+1",
      `'=HYPERLINK("http://evil")`,
    ]);
    for (const row of rows.slice(1)) {
      assert.equal(row[5], 'group.created');
      assert.equal(row[4], 'sec@example.com');
      assert.match(row[10] ?? '', /^[0-9a-f]{64}$/);
    }
  });

  it('records the export in the audit log with its filter', async () => {
    await t.inject('GET', '/api/v1/audit/export.csv?actor=sec@example.com', { token: auditor });
    const e = await list('action=audit.exported');
    assert.ok(e.total >= 1);
    const latest = (await t.inject('GET', '/api/v1/audit?action=audit.exported&limit=1', { token: auditor }))
      .json.items[0] as { actorLabel: string; details: unknown };
    assert.equal(latest.actorLabel, 'aud@example.com');
    assert.deepEqual(latest.details, { filter: { actor: 'sec@example.com' } });
  });

  it('pages through more entries than one batch', async () => {
    // 1000 entries per batch: write enough directly through the service to need two.
    for (let i = 0; i < 1005; i++)
      await t.services.audit.record({ actor: { type: 'system', label: 'test' }, action: 'test.bulk' });
    const r = await t.inject('GET', '/api/v1/audit/export.csv?action=test.bulk', { token: auditor });
    const rows = parseCsv(r.text).slice(1);
    assert.equal(rows.length, 1005);
    assert.equal(new Set(rows.map((row) => row[0])).size, 1005);
  });
});
