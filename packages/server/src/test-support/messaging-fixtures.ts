import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { activateDevice, authenticateDevice } from '@enclave/client';
import type { TestEnclave } from './harness.js';

/** An activated, authenticated device: what a test needs to call the device API. */
export interface TestDevice {
  deviceId: string;
  email: string;
  token: string;
}

/** Opaque bytes standing in for an MLS message or KeyPackage (the server must not look inside). */
export const blob = (n = 64): string => randomBytes(n).toString('base64url');

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `predicate` until it is truthy or `ms` pass; returns its last value or throws. */
export async function waitFor<T>(
  predicate: () => T | Promise<T>,
  ms = 3000,
  what = 'condition',
): Promise<NonNullable<T>> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await predicate();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(15);
  }
}

/** Creates users and activates their devices through the real OPAQUE activation. */
export class People {
  private admin: string | undefined;

  constructor(private readonly t: TestEnclave) {}

  private async adminToken(): Promise<string> {
    this.admin ??= await this.t.adminToken('security-admin');
    return this.admin;
  }

  async user(email: string): Promise<string> {
    const r = await this.t.inject('POST', '/api/v1/users', {
      token: await this.adminToken(),
      body: { email, name: email.split('@')[0] },
    });
    assert.equal(r.status, 201, r.text);
    return email;
  }

  /** Activates a new device for an existing user; uploads `keyPackages` one-time packages (default 5) and a last-resort one unless told not to. */
  async device(
    email: string,
    opts: { keyPackages?: number; lastResort?: boolean } = {},
  ): Promise<TestDevice> {
    const p = await this.t.inject('POST', '/api/v1/activations', {
      token: await this.adminToken(),
      body: { email },
    });
    assert.equal(p.status, 201, p.text);
    const d = await activateDevice({
      transport: this.t.transport,
      email,
      activationPassword: p.json.password,
      platform: 'linux',
      clientVersion: '1.0.0',
    });
    const tok = await authenticateDevice({
      transport: this.t.transport,
      deviceId: d.deviceId,
      privateKey: d.privateKeyPkcs8,
    });
    const dev = { deviceId: d.deviceId, email, token: tok.token };
    const n = opts.keyPackages ?? 5;
    if (n > 0 || opts.lastResort !== false) {
      const body = {
        keyPackages: Array.from({ length: n }, () => blob(100)),
        ...(opts.lastResort === false ? {} : { lastResort: blob(100) }),
      };
      const r = await this.t.inject('POST', '/api/v1/mls/key-packages', { token: dev.token, body });
      assert.equal(r.status, 200, r.text);
    }
    return dev;
  }

  async revoke(deviceId: string): Promise<void> {
    const r = await this.t.inject('POST', `/api/v1/devices/${deviceId}/commands`, {
      token: await this.adminToken(),
      body: { type: 'revoke' },
    });
    assert.equal(r.status, 201, r.text);
  }
}

/**
 * Creates a conversation from `creator` with `others` and commits the adds of every device that has
 * a KeyPackage, as the creating device would. Returns the conversation id and its epoch afterwards.
 */
export async function establish(
  t: TestEnclave,
  creator: TestDevice,
  others: string[],
  name?: string,
): Promise<{ id: string; epoch: number }> {
  const c = await t.inject('POST', '/api/v1/conversations', {
    token: creator.token,
    body: { memberEmails: others, ...(name ? { name } : {}) },
  });
  assert.equal(c.status, 201, c.text);
  const id = c.json.conversation.id as string;
  const adds = (c.json.pending.adds as { deviceId: string }[]).map((a) => a.deviceId);
  const r = await t.inject('POST', `/api/v1/conversations/${id}/commits`, {
    token: creator.token,
    body: { epoch: 0, commit: blob(), welcome: blob(), addedDeviceIds: adds },
  });
  assert.equal(r.status, 201, r.text);
  return { id, epoch: r.json.epoch as number };
}

export interface Item {
  seq: number;
  conversationId: string;
  kind: 'commit' | 'welcome' | 'application';
  epoch: number;
  messageId: string;
  senderDeviceId: string;
  senderEmail: string;
  body: string;
}

/** The device's whole queue (all pages). */
export async function drain(t: TestEnclave, d: TestDevice, after = 0): Promise<Item[]> {
  const out: Item[] = [];
  for (;;) {
    const r = await t.inject('GET', `/api/v1/queue?after=${after}&limit=500`, { token: d.token });
    assert.equal(r.status, 200, r.text);
    out.push(...(r.json.items as Item[]));
    if (!r.json.more) return out;
    after = out[out.length - 1]!.seq;
  }
}

export async function ackAll(t: TestEnclave, d: TestDevice): Promise<void> {
  const items = await drain(t, d);
  for (let i = 0; i < items.length; i += 1000) {
    const r = await t.inject('POST', '/api/v1/queue/ack', {
      token: d.token,
      body: { seqs: items.slice(i, i + 1000).map((x) => x.seq) },
    });
    assert.equal(r.status, 200, r.text);
  }
}
