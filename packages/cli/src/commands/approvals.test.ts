import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { fakeContext, routeTransport, runCli, signedInSession } from '../testing/fake-context.js';

const now = '2025-06-01T12:00:00.000Z';
const ID = '00000000-0000-4000-8000-0000000000e1';
const DEV = ['00000000-0000-4000-8000-0000000000d1', '00000000-0000-4000-8000-0000000000d2'];
const approval = {
  id: ID,
  state: 'pending_approval',
  type: 'lock',
  target: { groupName: 'Field' },
  deviceIds: DEV,
  deviceCount: 2,
  message: null,
  reason: null,
  guardrail: 'over_threshold',
  requestedBy: { id: '00000000-0000-4000-8000-0000000000a1', email: 'sec@example.com' },
  decidedBy: null,
  decisionReason: null,
  createdAt: now,
  expiresAt: now,
  decidedAt: null,
  runAfter: null,
  executedAt: null,
  commandIds: [],
};

describe('enclave approvals and bulk devices command', () => {
  let tmp: string;
  let config: string;

  before(async () => {
    ({ tmp, config } = await signedInSession('enclave-cli-approvals-', now));
  });
  after(() => rm(tmp, { recursive: true, force: true }));

  it('prints the pending approval a bulk command became', async () => {
    let sent: unknown;
    const t = routeTransport({
      'POST /api/v1/commands': (body) => {
        sent = body;
        return [201, approval];
      },
    });
    const r = await runCli(
      fakeContext({ transport: () => t }),
      'devices',
      'command',
      '--group',
      'Field',
      'lock',
      '--config',
      config,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(sent, { type: 'lock', groupName: 'Field' });
    assert.match(r.stdout, /needs a second administrator/);
    assert.match(r.stdout, new RegExp(`enclave approvals approve ${ID}`));
  });

  it('prints the queued commands of a bulk command within the threshold', async () => {
    const t = routeTransport({
      'POST /api/v1/commands': () => [
        201,
        {
          state: 'queued',
          commands: DEV.map((deviceId, i) => ({
            deviceId,
            commandId: `00000000-0000-4000-8000-0000000000c${i}`,
            type: 'ping',
            state: 'queued',
            createdAt: now,
          })),
        },
      ],
    });
    const r = await runCli(
      fakeContext({ transport: () => t }),
      'devices',
      'command',
      '--devices',
      DEV.join(','),
      'ping',
      '--config',
      config,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /ping queued for 2 device\(s\)/);
  });

  it('refuses both a device id and a bulk target', async () => {
    const t = routeTransport({});
    const r = await runCli(
      fakeContext({ transport: () => t }),
      'devices',
      'command',
      DEV[0] ?? '',
      'lock',
      '--user',
      'a@example.com',
      '--config',
      config,
    );
    assert.equal(r.code, 1);
    assert.match(r.stderr, /usage_error/);
  });

  it('lists, approves and denies requests', async () => {
    const t = routeTransport({
      'GET /api/v1/approvals': () => [200, { items: [approval] }],
      [`POST /api/v1/approvals/${ID}/approve`]: () => [
        200,
        { ...approval, state: 'approved', runAfter: now, decidedBy: { id: null, email: 'ent@example.com' } },
      ],
      [`POST /api/v1/approvals/${ID}/deny`]: (body) => [
        200,
        { ...approval, state: 'denied', decisionReason: (body as { reason?: string }).reason ?? null },
      ],
    });
    const ctx = () => fakeContext({ transport: () => t });
    const list = await runCli(ctx(), 'approvals', 'list', '--state', 'pending_approval', '--config', config);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, new RegExp(ID));
    assert.match(t.seen[0]?.path ?? '', /state=pending_approval/);
    const ok = await runCli(ctx(), 'approvals', 'approve', ID, '--config', config);
    assert.match(ok.stdout, /Approved\. It runs after/);
    const no = await runCli(
      ctx(),
      'approvals',
      'deny',
      ID,
      '--reason',
      'not now',
      '--config',
      config,
      '--json',
    );
    assert.equal(no.json().state, 'denied');
    assert.equal(no.json().decisionReason, 'not now');
  });
});
