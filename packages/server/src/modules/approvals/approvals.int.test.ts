import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { activateDevice } from '@enclave/client';
import { assertError } from '../../test-support/expect.js';
import { type TestEnclave, testEnclave } from '../../test-support/harness.js';

// Two-person approval, bulk commands, the cancellable delay and the wipe rate limit, on real devices.
describe('guardrails: approvals and bulk commands', () => {
  let t: TestEnclave;
  let skewMs = 0;
  let requester: string; // senior helpdesk
  let second: string; // enterprise admin
  let junior: string;
  const alice: string[] = [];
  let bob = '';

  async function activate(email: string): Promise<string> {
    const p = await t.inject('POST', '/api/v1/activations', { token: second, body: { email } });
    const d = await activateDevice({
      transport: t.transport,
      email,
      activationPassword: p.json.password,
      platform: 'test',
      clientVersion: '1.0.0',
    });
    return d.deviceId;
  }
  const commandsOf = async (id: string) =>
    (await t.inject('GET', `/api/v1/devices/${id}`, { token: second })).json.commands as {
      commandId: string;
      type: string;
      state: string;
    }[];
  const pendingCount = async (ids: string[]) =>
    (await Promise.all(ids.map(commandsOf))).flat().filter((c) => c.state === 'queued').length;
  /** Lets the cancellable delay elapse and runs the scheduled step. */
  async function afterDelay() {
    skewMs += 61_000;
    await t.services.approvals.runDue();
  }

  before(async () => {
    t = await testEnclave({
      approvals: { bulkThreshold: 2, wipeLimit: 3, now: () => Date.now() + skewMs },
    });
    requester = await t.adminToken('senior-helpdesk');
    second = await t.adminToken('enterprise-admin');
    junior = await t.adminToken('junior-helpdesk');
    await t.inject('POST', '/api/v1/groups', { token: second, body: { name: 'field' } });
    await t.inject('POST', '/api/v1/users', {
      token: second,
      body: { email: 'alice@example.com', name: 'Alice', groups: ['field'] },
    });
    await t.inject('POST', '/api/v1/users', {
      token: second,
      body: { email: 'bob@example.com', name: 'Bob' },
    });
    for (let i = 0; i < 3; i++) alice.push(await activate('alice@example.com'));
    bob = await activate('bob@example.com');
  });
  after(async () => {
    await t.close();
  });

  it('queues a command at once when it stays within the threshold', async () => {
    const res = await t.inject('POST', '/api/v1/commands', {
      token: requester,
      body: { type: 'ping', deviceIds: alice.slice(0, 2) },
    });
    assert.equal(res.status, 201, res.text);
    assert.equal(res.json.state, 'queued');
    assert.deepEqual(
      res.json.commands.map((c: { deviceId: string }) => c.deviceId).sort(),
      alice.slice(0, 2).sort(),
    );
  });

  it('holds a bulk command over the threshold as pending_approval until a second admin approves', async () => {
    const before = await pendingCount(alice);
    const res = await t.inject('POST', '/api/v1/commands', {
      token: requester,
      body: { type: 'lock', userEmail: 'alice@example.com', message: 'Call IT', reason: 'lost bag' },
    });
    assert.equal(res.status, 201, res.text);
    assert.equal(res.json.state, 'pending_approval');
    assert.equal(res.json.guardrail, 'over_threshold');
    assert.equal(res.json.deviceCount, 3);
    const id = res.json.id as string;
    assert.equal(await pendingCount(alice), before, 'nothing is queued before approval');

    const listed = await t.inject('GET', '/api/v1/approvals?state=pending_approval', { token: junior });
    assert.ok(listed.json.items.some((a: { id: string }) => a.id === id));

    assertError(
      await t.inject('POST', `/api/v1/approvals/${id}/approve`, { token: requester }),
      403,
      'approval_self',
    );
    assertError(
      await t.inject('POST', `/api/v1/approvals/${id}/approve`, { token: junior }),
      403,
      'forbidden',
    );

    const ok = await t.inject('POST', `/api/v1/approvals/${id}/approve`, { token: second });
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.json.state, 'approved');
    assert.ok(ok.json.runAfter);
    await t.services.approvals.runDue();
    assert.equal(await pendingCount(alice), before, 'nothing runs before the delay has elapsed');

    await afterDelay();
    const done = await t.inject('GET', `/api/v1/approvals/${id}`, { token: second });
    assert.equal(done.json.state, 'executed');
    assert.equal(done.json.commandIds.length, 3);
    assert.equal(await pendingCount(alice), before + 3);
    for (const d of alice)
      assert.ok((await commandsOf(d)).some((c) => done.json.commandIds.includes(c.commandId)));
    assertError(
      await t.inject('POST', `/api/v1/approvals/${id}/cancel`, { token: requester }),
      409,
      'conflict',
    );
  });

  it('lets a second admin deny a request, which then never runs', async () => {
    const before = await pendingCount(alice);
    const res = await t.inject('POST', '/api/v1/commands', {
      token: requester,
      body: { type: 'lock', groupName: 'field' },
    });
    assert.equal(res.json.state, 'pending_approval', res.text);
    assertError(
      await t.inject('POST', `/api/v1/approvals/${res.json.id}/deny`, { token: requester }),
      403,
      'approval_self',
    );
    const denied = await t.inject('POST', `/api/v1/approvals/${res.json.id}/deny`, {
      token: second,
      body: { reason: 'not lost after all' },
    });
    assert.equal(denied.status, 200, denied.text);
    assert.equal(denied.json.state, 'denied');
    assert.equal(denied.json.decisionReason, 'not lost after all');
    assertError(
      await t.inject('POST', `/api/v1/approvals/${res.json.id}/approve`, { token: second }),
      409,
      'conflict',
    );
    await afterDelay();
    assert.equal(await pendingCount(alice), before);
  });

  it('cancels an approved action during its delay', async () => {
    const before = await pendingCount(alice);
    const res = await t.inject('POST', '/api/v1/commands', {
      token: requester,
      body: { type: 'unlock', deviceIds: alice },
    });
    assert.equal(res.json.state, 'pending_approval', res.text);
    await t.inject('POST', `/api/v1/approvals/${res.json.id}/approve`, { token: second });
    assertError(
      await t.inject('POST', `/api/v1/approvals/${res.json.id}/cancel`, { token: junior }),
      403,
      'forbidden',
    );
    const cancelled = await t.inject('POST', `/api/v1/approvals/${res.json.id}/cancel`, { token: requester });
    assert.equal(cancelled.status, 200, cancelled.text);
    assert.equal(cancelled.json.state, 'cancelled');
    await afterDelay();
    assert.equal(
      (await t.inject('GET', `/api/v1/approvals/${res.json.id}`, { token: second })).json.state,
      'cancelled',
    );
    assert.equal(await pendingCount(alice), before);
  });

  it('refuses a Junior Helpdesk a wipe, single or bulk', async () => {
    assertError(
      await t.inject('POST', `/api/v1/devices/${bob}/commands`, {
        token: junior,
        body: { type: 'wipe-work' },
      }),
      403,
      'forbidden',
    );
    assertError(
      await t.inject('POST', '/api/v1/commands', { token: junior, body: { type: 'wipe', deviceIds: [bob] } }),
      403,
      'forbidden',
    );
  });

  it('holds a full wipe of a single device for approval, even on the single-device route', async () => {
    const res = await t.inject('POST', `/api/v1/devices/${bob}/commands`, {
      token: requester,
      body: { type: 'wipe', reason: 'stolen' },
    });
    assert.equal(res.status, 201, res.text);
    assert.equal(res.json.state, 'pending_approval');
    assert.equal(res.json.guardrail, 'full_wipe');
    assert.deepEqual(res.json.deviceIds, [bob]);
    assert.equal((await commandsOf(bob)).length, 0);
    await t.inject('POST', `/api/v1/approvals/${res.json.id}/approve`, { token: second });
    await afterDelay();
    const cmds = await commandsOf(bob);
    assert.deepEqual(
      cmds.map((c) => [c.type, c.state]),
      [['wipe', 'queued']],
    );
  });

  it('answers 429 rate_limited past the per-administrator wipe limit', async () => {
    // The requester has 1 wipe this hour (bob); 3 more would exceed the limit of 3.
    const res = await t.inject('POST', '/api/v1/commands', {
      token: requester,
      body: { type: 'wipe-work', userEmail: 'alice@example.com' },
    });
    const err = assertError(res, 429, 'rate_limited');
    assert.match(err.message, /at most 3 devices/);
    // Another administrator has their own budget: the request becomes a pending approval.
    const other = await t.inject('POST', '/api/v1/commands', {
      token: second,
      body: { type: 'wipe-work', userEmail: 'alice@example.com' },
    });
    assert.equal(other.json.state, 'pending_approval', other.text);
    // …which counts against that budget too.
    assertError(
      await t.inject('POST', `/api/v1/devices/${bob}/commands`, {
        token: second,
        body: { type: 'wipe-work' },
      }),
      429,
      'rate_limited',
    );
    await t.inject('POST', `/api/v1/approvals/${other.json.id}/cancel`, { token: second });
  });

  it('expires an undecided request after its time to live', async () => {
    const res = await t.inject('POST', '/api/v1/commands', {
      token: requester,
      body: { type: 'lock', userEmail: 'alice@example.com' },
    });
    assert.equal(res.json.state, 'pending_approval', res.text);
    skewMs += 25 * 3600_000;
    const expired = await t.inject('GET', '/api/v1/approvals?state=expired', { token: second });
    assert.ok(
      expired.json.items.some((a: { id: string }) => a.id === res.json.id),
      expired.text,
    );
    assertError(
      await t.inject('POST', `/api/v1/approvals/${res.json.id}/approve`, { token: second }),
      409,
      'conflict',
    );
  });

  it('records every step in the audit log', async () => {
    const rows = await t.enclave.handle.db.selectFrom('audit_log').select('action').execute();
    const actions = new Set(rows.map((r) => r.action));
    for (const a of [
      'approval.requested',
      'approval.approved',
      'approval.denied',
      'approval.cancelled',
      'approval.executed',
      'approval.expired',
      'command.bulk_sent',
      'command.rate_limited',
    ])
      assert.ok(actions.has(a), a);
  });
});
