import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { POLICY_DEFAULTS } from '@enclave/protocol';
import { fakeContext, routeTransport, runCli, signedInSession } from '../testing/fake-context.js';

const now = '2025-06-01T12:00:00.000Z';
const DEVICE = '00000000-0000-4000-8000-0000000000d1';
const USER = '00000000-0000-4000-8000-0000000000a1';
const policy = {
  id: '00000000-0000-4000-8000-0000000000b1',
  name: 'Sales policy',
  description: '',
  version: 3,
  document: POLICY_DEFAULTS,
  isDefault: false,
  createdAt: now,
  updatedAt: now,
  assignments: { users: [], groups: [] },
};
const effective = {
  userId: USER,
  policy,
  source: { kind: 'group', groupName: 'Sales', rank: 20 },
  explanation: 'assigned to group Sales (rank 20), which outranks Legal (rank 10)',
};

describe('enclave policies effective', () => {
  let tmp: string;
  let config: string;

  before(async () => {
    ({ tmp, config } = await signedInSession('enclave-cli-policies-', now));
  });
  after(() => rm(tmp, { recursive: true, force: true }));

  const transport = () => routeTransport({ 'GET /api/v1/policies/effective': () => [200, effective] });

  it('says which policy won and why', async () => {
    const t = transport();
    const r = await runCli(
      fakeContext({ transport: () => t }),
      'policies',
      'effective',
      '--device',
      DEVICE,
      '--config',
      config,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Policy "Sales policy" \(version 3/);
    assert.match(r.stdout, /Source: group Sales \(rank 20\)/);
    assert.match(r.stdout, /outranks Legal \(rank 10\)/);
    assert.match(t.seen[0]?.path ?? '', new RegExp(`deviceId=${DEVICE}`));
  });

  it('gives { policy, source, explanation } with --json', async () => {
    const t = transport();
    const r = await runCli(
      fakeContext({ transport: () => t }),
      'policies',
      'effective',
      '--device',
      DEVICE,
      '--config',
      config,
      '--json',
    );
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(Object.keys(r.json()).sort(), ['explanation', 'policy', 'source']);
  });

  it('needs exactly one of --device or --user', async () => {
    const r = await runCli(
      fakeContext({ transport: () => transport() }),
      'policies',
      'effective',
      '--config',
      config,
    );
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error: give exactly one of --device ID or --user EMAIL \(usage_error\)\n$/);
  });
});
