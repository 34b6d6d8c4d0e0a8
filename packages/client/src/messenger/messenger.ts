import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { type Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { deriveKey, x509 } from '@enclave/crypto';
import {
  KEY_PACKAGE_LOW,
  KEY_PACKAGE_TARGET,
  type PendingMembership,
  type QueueItem,
  ServerFrameSchema,
  type SignedCommand,
} from '@enclave/protocol';
import WebSocket from 'ws';
import { z } from 'zod';
import { CommandRunner, nodeCommandHandlers } from '../commands/index.js';
import { authenticateDevice } from '../device-auth.js';
import { type LoadedDevice, readDeviceDir, type DeviceStoreOptions } from '../device-store.js';
import { createMlsEngine, type MlsEngine, MlsEngineError } from '../mls/index.js';
import { ApiError, type Transport } from '../transport.js';
import { DeviceMessagingApi } from './device-api.js';
import { type InboxMessage, type MessengerState, MessengerStore } from './messenger-store.js';

const b64 = (u: Uint8Array) => Buffer.from(u).toString('base64url');
const unb64 = (s: string) => new Uint8Array(Buffer.from(s, 'base64url'));
const MAX_RETRIES = 6;

/** What travels inside an MLS application message (never visible to the server). */
const AttachmentRefSchema = z.object({
  id: z.string(),
  name: z.string().max(255),
  size: z.number().int(),
  /** AES-256-GCM key, nonce and tag of the blob — only members can read them (inside MLS). */
  key: z.string(),
  iv: z.string(),
  tag: z.string(),
});
export type AttachmentRef = z.infer<typeof AttachmentRefSchema>;
const EnvelopeSchema = z.object({
  v: z.literal(1),
  id: z.string(),
  type: z.literal('text'),
  text: z.string(),
  sentAt: z.string(),
  attachments: z.array(AttachmentRefSchema).max(10).optional(),
});

export interface MessengerOptions extends DeviceStoreOptions {
  /** Where the WebSocket stream is (`https://host:port` and the CA to pin), for {@link Messenger.listen}. */
  stream?: { baseUrl: string; ca?: string };
  /** The device directory written by activation. */
  dir: string;
  /** Transport pinned to the device's `ca.pem`. */
  transport: Transport;
}

export interface SyncResult {
  /** Messages decrypted in this sync and all earlier ones not yet drained. */
  received: number;
  problems: MessengerState['problems'];
}

/**
 * A device's messenger: MLS state, KeyPackage stock, queue processing and sending, on top of the
 * delivery service. Everything it learns is sealed on disk under a key derived from the device key.
 * @example const m = await Messenger.open({ dir, transport }); await m.send({ to: ['bob@example.com'], text: 'hi' }); await m.close();
 */
export class Messenger {
  private constructor(
    private readonly token: string,
    private readonly streamAt: MessengerOptions['stream'],
    private readonly device: LoadedDevice,
    private readonly api: DeviceMessagingApi,
    private readonly engine: MlsEngine,
    private readonly store: MessengerStore,
    private state: MessengerState,
  ) {}

  static async open(opts: MessengerOptions): Promise<Messenger> {
    const device = await readDeviceDir(opts.dir, opts);
    const { token } = await authenticateDevice({
      transport: opts.transport,
      deviceId: device.record.deviceId,
      privateKey: device.privateKey,
    });
    const api = new DeviceMessagingApi(opts.transport, token);
    const revoked = parseCrl(await api.crl());
    const storageKey = deriveKey(device.privateKeyPkcs8, 'enclave device storage v1');
    const engine = await createMlsEngine({
      credentials: {
        privateKeyPkcs8: device.privateKeyPkcs8,
        certificateChain: [device.certificatePem, ...device.chainPem],
      },
      trust: {
        root: device.chainPem[device.chainPem.length - 1] ?? '',
        isRevoked: (serial) => revoked.has(serial.toLowerCase()),
      },
      storageKey,
    });
    const store = new MessengerStore(device.paths.dir, storageKey);
    const sealed = await store.loadMls();
    if (sealed) await engine.importState(sealed);
    return new Messenger(token, opts.stream, device, api, engine, store, await store.load());
  }

  get deviceId(): string {
    return this.device.record.deviceId;
  }
  get email(): string {
    return this.device.record.userEmail;
  }

  /** Keeps the server's stock of this device's KeyPackages topped up (RFC 9420 §10, §16.8). */
  async ensureKeyPackages(): Promise<number> {
    const status = await this.api.keyPackageStatus();
    if (status.available >= KEY_PACKAGE_LOW && status.hasLastResort) return status.available;
    const fresh = await this.engine.generateKeyPackages(Math.max(0, KEY_PACKAGE_TARGET - status.available));
    const lastResort = status.hasLastResort ? undefined : await this.engine.lastResortKeyPackage();
    await this.persist(); // the private halves must be on disk before the public halves are out
    const after = await this.api.uploadKeyPackages(fresh.map(b64), lastResort ? b64(lastResort) : undefined);
    return after.available;
  }

  /** Processes the queue in order (Welcomes, commits, messages), then commits pending membership changes. */
  async sync(): Promise<SyncResult> {
    for (;;) {
      const page = await this.api.queue(0);
      if (!page.items.length) break;
      const done: number[] = [];
      for (const item of page.items) {
        await this.processItem(item);
        done.push(item.seq);
      }
      // State first, then the ack: a crash in between re-delivers, and the seen-set drops duplicates.
      await this.persist();
      await this.api.ack(done);
      if (!page.more) break;
    }
    for (const c of (await this.api.conversations()).items) {
      if (c.membershipPending && this.engine.hasGroup(c.id)) await this.commitPending(c.id);
    }
    await this.persist();
    return { received: this.state.inbox.length, problems: this.state.problems };
  }

  /**
   * Listens on the WebSocket stream for up to `timeoutMs` or until `stopWhen` says so: deliveries are
   * processed in order as they are pushed and acknowledged once the state is on disk; a `membership`
   * frame makes this device commit the pending adds/removals. Returns how many items it processed.
   */
  async listen(opts: { timeoutMs: number; stopWhen?: () => boolean }): Promise<number> {
    if (!this.streamAt)
      throw new ApiError(0, 'protocol_error', 'no stream endpoint configured for this messenger');
    const url = `${this.streamAt.baseUrl.replace(/^https:/, 'wss:')}/api/v1/stream`;
    const ws = new WebSocket(url, {
      headers: { authorization: `Bearer ${this.token}` },
      ...(this.streamAt.ca ? { ca: this.streamAt.ca } : {}),
    });
    let processed = 0;
    let chain = Promise.resolve();
    let settled = false;
    return new Promise<number>((resolve, reject) => {
      const finish = (err?: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        ws.removeAllListeners('message');
        ws.close();
        chain.then(() => (err ? reject(err) : resolve(processed)), reject);
      };
      const timer = setTimeout(() => finish(), opts.timeoutMs);
      ws.on('message', (data) => {
        let json: unknown;
        try {
          json = JSON.parse(Buffer.isBuffer(data) ? data.toString('utf8') : '{}');
        } catch {
          return;
        }
        const frame = ServerFrameSchema.safeParse(json);
        if (!frame.success) return;
        const f = frame.data;
        chain = chain.then(async () => {
          if (settled) return;
          if (f.type === 'deliver') {
            await this.processItem(f.item);
            await this.persist();
            ws.send(JSON.stringify({ type: 'ack', seqs: [f.item.seq] }));
            processed++;
            if (opts.stopWhen?.()) finish();
          } else if (f.type === 'membership' && this.engine.hasGroup(f.conversationId)) {
            await this.commitPending(f.conversationId);
          } else if (f.type === 'keypackages_low') {
            await this.ensureKeyPackages();
          } else if (f.type === 'policy_changed') {
            await this.refreshPolicy();
          } else if (f.type === 'command') {
            this.commandResults.push(...(await this.runCommands([f.command])));
            if (this.wiped || opts.stopWhen?.()) finish();
          }
        });
        chain.catch((err: unknown) => finish(err instanceof Error ? err : new Error(String(err))));
      });
      ws.once('error', (err) => finish(new ApiError(0, 'network_error', `stream: ${err.message}`)));
      ws.once('close', (code, reason) => {
        if (code === 4003)
          finish(new ApiError(401, 'device_revoked', 'this device has been revoked by the organisation'));
        else
          finish(
            code === 1000 || code === 1005
              ? undefined
              : new ApiError(0, 'network_error', `stream closed (${code} ${reason.toString()})`),
          );
      });
    });
  }

  /** Commands run while listening, in order. */
  readonly commandResults: { commandId: string; type: string; state: 'done' | 'failed' }[] = [];

  /** Messages waiting in the inbox. */
  get inboxSize(): number {
    return this.state.inbox.length;
  }

  /** Hands the decrypted messages to the app, exactly once. */
  async drainInbox(): Promise<InboxMessage[]> {
    const out = this.state.inbox;
    this.state = { ...this.state, inbox: [] };
    await this.persist();
    return out;
  }

  private async processItem(item: QueueItem): Promise<void> {
    const cid = item.conversationId;
    try {
      switch (item.kind) {
        case 'welcome': {
          if (this.engine.hasGroup(cid)) return;
          const groupId = await this.engine.joinFromWelcome(unb64(item.body));
          if (groupId !== cid)
            throw new MlsEngineError('invalid_message', 'the Welcome is for another conversation');
          return;
        }
        case 'commit': {
          if (!this.engine.hasGroup(cid) || this.engine.epoch(cid) > item.epoch) return; // not joined yet, or already past it
          // A different commit for our pending epoch makes the engine drop ours by itself (once the
          // winner validates); our own commit coming back is applied as ours.
          const r = await this.engine.processHandshake(cid, unb64(item.body));
          if (r.removedSelf) this.engine.forgetGroup(cid);
          return;
        }
        case 'application': {
          if (this.state.seen.includes(item.messageId) || !this.engine.hasGroup(cid)) return;
          const m = await this.engine.decrypt(cid, unb64(item.body));
          const env = EnvelopeSchema.parse(JSON.parse(Buffer.from(m.plaintext).toString('utf8')));
          // The id is inside the ciphertext too: the server cannot swap or replay ids unnoticed.
          if (env.id !== item.messageId)
            throw new MlsEngineError('invalid_message', 'the message id does not match its envelope');
          this.state.seen.push(env.id);
          this.state.inbox.push({
            conversationId: cid,
            messageId: env.id,
            from: m.senderEmail,
            fromDeviceId: m.senderDeviceId,
            text: env.text,
            sentAt: env.sentAt,
            ...(env.attachments?.length ? { attachments: env.attachments } : {}),
          });
          return;
        }
      }
    } catch (err) {
      const code = err instanceof MlsEngineError ? err.code : 'invalid_message';
      this.state.problems.push({ seq: item.seq, conversationId: cid, code, message: (err as Error).message });
    }
  }

  /** Commits what the server says is pending: removals first (they block the conversation), then adds. */
  private async commitPending(cid: string): Promise<void> {
    for (let attempt = 0; attempt < MAX_RETRIES; attempt++) {
      const pending: PendingMembership = await this.api.pending(cid);
      if (!pending.adds.length && !pending.removes.length) return;
      if (this.engine.epoch(cid) !== pending.epoch) {
        await this.sync();
        continue;
      }
      const removes = pending.removes.map((r) => r.deviceId);
      const inGroup = new Set(this.engine.members(cid).map((m) => m.deviceId));
      const pc = removes.some((id) => inGroup.has(id))
        ? await this.engine.removeMembers(cid, { deviceIds: removes })
        : await this.engine.addMembers(
            cid,
            pending.adds.map((a) => unb64(a.keyPackage)),
          );
      const added = removes.some((id) => inGroup.has(id)) ? [] : pending.adds.map((a) => a.deviceId);
      try {
        await this.api.commit(cid, {
          epoch: pc.epoch,
          commit: b64(pc.commit),
          ...(pc.welcome && added.length ? { welcome: b64(pc.welcome) } : {}),
          addedDeviceIds: added,
          removedDeviceIds: removes,
        });
        await this.engine.applyPendingCommit(cid);
        await this.persist();
      } catch (err) {
        this.engine.discardPendingCommit(cid);
        if (err instanceof ApiError && (err.code === 'stale_epoch' || err.code === 'membership_pending')) {
          await this.sync();
          continue;
        }
        throw err;
      }
    }
  }

  /** The conversation with exactly these people (this user plus `to`), creating it if needed. */
  async conversationWith(to: string[]): Promise<string> {
    const want = [...new Set([this.email, ...to.map((e) => e.trim().toLowerCase())])].sort();
    const existing = (await this.api.conversations()).items.find(
      (c) =>
        this.engine.hasGroup(c.id) &&
        c.memberEmails.length === want.length &&
        c.memberEmails.every((e, i) => e === want[i]),
    );
    if (existing) return existing.id;
    const created = await this.api.createConversation(want.filter((e) => e !== this.email));
    const cid = created.conversation.id;
    // RFC 9420 §11: the creator founds the group alone at epoch 0, then adds everyone in one commit.
    await this.engine.createGroup(cid);
    await this.persist();
    await this.commitPending(cid);
    return cid;
  }

  /** Encrypts and sends a text; recovers by itself from a stale epoch or a pending membership change. */
  async send(opts: {
    to?: string[];
    conversationId?: string;
    text: string;
    files?: string[];
  }): Promise<{ conversationId: string; messageId: string }> {
    await this.sync();
    const cid = opts.conversationId ?? (await this.conversationWith(opts.to ?? []));
    if (!this.engine.hasGroup(cid)) {
      throw new ApiError(
        403,
        'not_a_member',
        'this device has not joined that conversation yet (no Welcome received)',
      );
    }
    const attachments: AttachmentRef[] = [];
    for (const file of opts.files ?? []) attachments.push(await uploadEncrypted(this.api, cid, file));
    const messageId = await this.sendText(cid, opts.text, attachments);
    return { conversationId: cid, messageId };
  }

  /**
   * Sends several texts to a conversation this device has joined, in order, after one sync
   * (`send` syncs before every message). The ratchet state is still saved before each message
   * leaves, so a crash never reuses a key. Returns the message ids.
   */
  async sendMany(conversationId: string, texts: string[]): Promise<string[]> {
    await this.sync();
    if (!this.engine.hasGroup(conversationId))
      throw new ApiError(
        403,
        'not_a_member',
        'this device has not joined that conversation yet (no Welcome received)',
      );
    const ids: string[] = [];
    for (const text of texts) ids.push(await this.sendText(conversationId, text, []));
    return ids;
  }

  private async sendText(cid: string, text: string, attachments: AttachmentRef[]): Promise<string> {
    const messageId = crypto.randomUUID();
    const plaintext = Buffer.from(
      JSON.stringify({
        v: 1,
        id: messageId,
        type: 'text',
        text,
        sentAt: new Date().toISOString(),
        ...(attachments.length ? { attachments } : {}),
      }),
    );
    for (let attempt = 0; ; attempt++) {
      const ciphertext = await this.engine.encrypt(cid, plaintext);
      await this.persist();
      try {
        await this.api.send(cid, { epoch: this.engine.epoch(cid), messageId, ciphertext: b64(ciphertext) });
        return messageId;
      } catch (err) {
        if (
          attempt < MAX_RETRIES &&
          err instanceof ApiError &&
          (err.code === 'stale_epoch' || err.code === 'membership_pending')
        ) {
          await this.sync();
          if (err.code === 'membership_pending') await this.commitPending(cid);
          continue;
        }
        throw err;
      }
    }
  }

  /** Downloads an attachment's ciphertext and decrypts it into `file`; a tampered blob is refused and nothing is kept. */
  async saveAttachment(ref: AttachmentRef, file: string): Promise<void> {
    const decipher = createDecipheriv(
      'aes-256-gcm',
      Buffer.from(ref.key, 'base64url'),
      Buffer.from(ref.iv, 'base64url'),
    );
    decipher.setAuthTag(Buffer.from(ref.tag, 'base64url'));
    try {
      await this.api.download(
        ref.id,
        new PassThroughInto(decipher, fs.createWriteStream(file, { mode: 0o600 })),
      );
    } catch (err) {
      await fs.promises.rm(file, { force: true });
      throw err instanceof ApiError
        ? err
        : new ApiError(
            0,
            'protocol_error',
            `attachment ${ref.name} failed to decrypt (tampered or incomplete)`,
          );
    }
  }

  async conversations() {
    return (await this.api.conversations()).items.filter((c) => this.engine.hasGroup(c.id));
  }

  async members(conversationId: string) {
    return this.api.members(conversationId);
  }

  private wiped = false;

  /** True once a wipe command ran: nothing more is written to this device directory. */
  get isWiped(): boolean {
    return this.wiped;
  }

  /** Verifies and executes server commands (signed by the enterprise command key), reporting each. */
  async runCommands(
    commands: readonly SignedCommand[],
  ): Promise<{ commandId: string; type: string; state: 'done' | 'failed' }[]> {
    const runner = new CommandRunner({
      deviceId: this.deviceId,
      issuingCaPem: this.device.chainPem[0] ?? '',
      nonceFile: path.join(this.device.paths.dir, 'commands.json'),
      handlers: nodeCommandHandlers(this.device.paths.dir),
      report: async (id, state, reason) => {
        await this.api.ackCommand(id, state, reason);
      },
    });
    const out = [];
    for (const c of commands) {
      if (this.wiped) break;
      const state = await runner.run(c);
      if (state === 'done' && (c.type === 'wipe-work' || c.type === 'wipe')) this.wiped = true;
      out.push({ commandId: c.commandId, type: c.type, state });
    }
    return out;
  }

  /** Fetches the effective policy and keeps it in the device directory (`policy.json`) for the app to enforce. */
  async refreshPolicy(): Promise<void> {
    const me = await this.api.me();
    if (!this.wiped)
      await fs.promises.writeFile(
        path.join(this.device.paths.dir, 'policy.json'),
        JSON.stringify(me.policy, null, 2),
        { mode: 0o600 },
      );
    this.policyUpdates++;
  }

  /** How many policy updates arrived while listening. */
  policyUpdates = 0;

  /** Pending commands from the server's check-in answer. */
  async pendingCommands(): Promise<SignedCommand[]> {
    return (await this.api.me()).commands;
  }

  private async persist(): Promise<void> {
    if (this.wiped) return; // a wiped device keeps nothing
    await this.store.save(this.state, await this.engine.exportState());
  }

  async close(): Promise<void> {
    await this.persist();
  }
}

/** Encrypts a file with a fresh AES-256-GCM key while streaming it to the server. */
async function uploadEncrypted(
  api: DeviceMessagingApi,
  conversationId: string,
  file: string,
): Promise<AttachmentRef> {
  const key = randomBytes(32);
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  const { size } = await fs.promises.stat(file);
  const source = fs.createReadStream(file).pipe(cipher);
  const up = await api.upload(conversationId, source);
  return {
    id: up.attachmentId,
    name: path.basename(file),
    size,
    key: key.toString('base64url'),
    iv: iv.toString('base64url'),
    tag: cipher.getAuthTag().toString('base64url'),
  };
}

/** A writable that pipes through `transform` into `dest`, finishing only when `dest` has. */
class PassThroughInto extends Writable {
  constructor(
    private readonly transform: Transform,
    dest: Writable,
  ) {
    super();
    this.done = pipeline(transform, dest);
  }
  private readonly done: Promise<void>;
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    this.transform.write(chunk, cb);
  }
  override _final(cb: (e?: Error | null) => void): void {
    this.transform.end();
    this.done.then(() => cb(), cb);
  }
}

/** Serial numbers (lower-case hex) on the issuing CA's CRL, for the credential check. */
function parseCrl(pem: string): Set<string> {
  try {
    const crl = new x509.X509Crl(pem.replace(/X509 CRL/g, 'CRL')); // @peculiar/x509 reads the `CRL` PEM label
    return new Set(crl.entries.map((e) => e.serialNumber.toLowerCase()));
  } catch {
    return new Set();
  }
}
