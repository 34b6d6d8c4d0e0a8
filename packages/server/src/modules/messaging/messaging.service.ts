import { certificateFingerprint } from '@enclave/crypto';
import {
  type Conversation,
  KEY_PACKAGE_LOW,
  KEY_PACKAGE_TARGET,
  MAX_MESSAGE_BYTES,
  MAX_WELCOME_BYTES,
  type PendingMembership,
  type QueueItem,
} from '@enclave/protocol';
import type { Bus } from '../../platform/bus/bus.js';
import { AppError } from '../../platform/http/app-error.js';
import type { DevicePrincipal } from '../../platform/http/route.js';
import type { UserService } from '../users/index.js';
import { GroupCommit } from './group-commit.js';
import {
  type ConversationRow,
  type MessagingRepository,
  Refused,
  StaleEpoch,
} from './messaging.repository.js';

/** How long acknowledgements are collected before they are written together. */
const ACK_DELAY_MS = 5;
type MessageInput = Parameters<MessagingRepository['acceptMessages']>[0][number];
type Accepted = { seq: number; deviceIds: string[]; duplicate: boolean };

const blocked = () =>
  new AppError(
    403,
    'device_blocked',
    'messaging is blocked on this device because it breaks the compliance policy: see GET /api/v1/device/me',
  );
const notMember = () => new AppError(403, 'not_a_member', 'this device is not a member of that conversation');
const stale = (epoch: number) =>
  new AppError(
    409,
    'stale_epoch',
    `the conversation is at epoch ${epoch}: fetch and process your queue, then retry`,
  );

function tooLarge(b64: string, limit = MAX_MESSAGE_BYTES): boolean {
  return Math.floor((b64.length * 3) / 4) > limit;
}

function refusal(reason: Refused['reason']): AppError {
  switch (reason) {
    case 'blocked':
      return blocked();
    case 'not_found':
      return new AppError(404, 'conversation_not_found', 'no such conversation');
    case 'not_member':
      return notMember();
    case 'too_large':
      return new AppError(
        413,
        'message_too_large',
        `a message may be at most ${MAX_MESSAGE_BYTES} bytes; send files as attachments`,
      );
    case 'pending_removal':
      return new AppError(
        409,
        'membership_pending',
        'a device must be removed from this conversation first: commit the pending removal, then resend',
      );
  }
}

/**
 * The MLS Delivery Service (RFC 9420 §14 / RFC 9750): stores KeyPackages, orders commits per
 * conversation, fans out ciphertext and keeps each delivery until its device acknowledges it. It
 * never holds a key that could read a message.
 */
export class MessagingService {
  /** Messages and acknowledgements are written in group commits (see GroupCommit). */
  private readonly messages: GroupCommit<MessageInput, Accepted>;
  private readonly acks: GroupCommit<{ deviceId: string; seqs: number[] }, number>;

  constructor(
    private readonly repo: MessagingRepository,
    private readonly users: UserService,
    private readonly bus: Bus,
  ) {
    this.messages = new GroupCommit<MessageInput, Accepted>(async (inputs) => {
      const results = await this.repo.acceptMessages(inputs);
      // One wake-up for the whole batch, once it is stored.
      const deviceIds = new Set<string>();
      for (const r of results) if (!(r instanceof Error)) for (const d of r.deviceIds) deviceIds.add(d);
      if (deviceIds.size) this.bus.publish('queue.enqueued', { deviceIds: [...deviceIds] });
      return results;
    });
    // Nobody waits for an acknowledgement's answer: collect them for a few ms.
    this.acks = new GroupCommit((requests) => this.repo.ackMany(requests), { delayMs: ACK_DELAY_MS });
  }

  async uploadKeyPackages(p: DevicePrincipal, keyPackages: string[], lastResort: string | undefined) {
    if ([...keyPackages, lastResort ?? ''].some((k) => tooLarge(k)))
      throw new AppError(413, 'message_too_large', 'a KeyPackage is too large');
    await this.repo.addKeyPackages(p.deviceId, keyPackages, lastResort, new Date().toISOString());
    return this.keyPackageStatus(p);
  }

  async keyPackageStatus(p: DevicePrincipal) {
    const s = await this.repo.keyPackageStock(p.deviceId);
    return { ...s, low: s.available < KEY_PACKAGE_LOW, target: KEY_PACKAGE_TARGET };
  }

  async create(p: DevicePrincipal, input: { memberEmails: string[]; name?: string | undefined }) {
    const others = [...new Set(input.memberEmails.filter((e) => e !== p.userEmail))];
    if (!others.length) throw new AppError(400, 'validation_failed', 'name at least one other person');
    const users = await Promise.all(others.map((e) => this.users.byEmail(e)));
    const userIds = [p.userId, ...users.map((u) => u.id)];
    const devices = await this.repo.activeDevicesOfUsers(userIds);
    for (const u of users) {
      if (!devices.some((d) => d.user_id === u.id)) {
        throw new AppError(
          400,
          'recipient_has_no_devices',
          `${u.email} has no active device yet: they must activate one before they can receive messages`,
        );
      }
    }
    const now = new Date().toISOString();
    const row: ConversationRow = {
      id: crypto.randomUUID(),
      name: input.name ?? null,
      kind: others.length === 1 && !input.name ? 'direct' : 'group',
      epoch: 0,
      created_by_device: p.deviceId,
      created_at: now,
      updated_at: now,
    };
    // The creating device founds the MLS group at epoch 0; every other device is added by its first commit.
    await this.repo.createConversation(
      row,
      userIds,
      devices.map((d) => ({ deviceId: d.id, state: d.id === p.deviceId ? 'member' : 'pending_add' })),
    );
    return {
      conversation: (await this.present([row]))[0] as Conversation,
      pending: await this.pending(p, row.id),
    };
  }

  async list(p: DevicePrincipal) {
    return { items: await this.present(await this.repo.conversationsOfDevice(p.deviceId)) };
  }

  private async requireMember(p: DevicePrincipal, conversationId: string) {
    const c = await this.repo.conversation(conversationId);
    if (!c) throw new AppError(404, 'conversation_not_found', 'no such conversation');
    const s = await this.repo.deviceState(conversationId, p.deviceId);
    if (!s || (s.state !== 'member' && s.state !== 'pending_remove')) throw notMember();
    return c;
  }

  /** The devices that can read the conversation now (members, and those about to be removed). */
  async members(p: DevicePrincipal, conversationId: string) {
    const c = await this.requireMember(p, conversationId);
    const rows = await this.repo.devicesOf(conversationId);
    return {
      conversationId,
      epoch: c.epoch,
      devices: rows
        .filter((r) => r.state !== 'removed')
        .map((r) => ({
          deviceId: r.device_id,
          userEmail: r.email,
          state: r.state as 'pending_add' | 'member' | 'pending_remove',
          certificateFingerprint: certificateFingerprint(r.certificate),
        })),
    };
  }

  /**
   * What a member must commit: devices to add (a KeyPackage is claimed for each now) and devices to
   * remove. Devices without a KeyPackage on the server wait.
   */
  async pending(p: DevicePrincipal, conversationId: string): Promise<PendingMembership> {
    const c = await this.requireMember(p, conversationId);
    const rows = await this.repo.pendingOf(conversationId);
    const adds: PendingMembership['adds'] = [];
    const waiting: string[] = [];
    for (const r of rows.filter((x) => x.state === 'pending_add')) {
      const kp = await this.repo.claimKeyPackage(r.device_id);
      if (kp) adds.push({ deviceId: r.device_id, userEmail: r.email, keyPackage: kp });
      else waiting.push(r.device_id);
      const stock = await this.repo.keyPackageStock(r.device_id);
      if (stock.available < KEY_PACKAGE_LOW)
        this.bus.publish('keypackages.low', { deviceId: r.device_id, available: stock.available });
    }
    const removes = rows
      .filter((x) => x.state === 'pending_remove')
      .map((r) => ({ deviceId: r.device_id, userEmail: r.email }));
    return { conversationId, epoch: c.epoch, adds, removes, waiting };
  }

  async commit(
    p: DevicePrincipal,
    conversationId: string,
    input: {
      epoch: number;
      commit: string;
      welcome?: string | undefined;
      addedDeviceIds: string[];
      removedDeviceIds: string[];
    },
  ) {
    if (await this.repo.isMessagingBlocked(p.deviceId)) throw blocked();
    const c = await this.requireMember(p, conversationId);
    if (tooLarge(input.commit) || (input.welcome && tooLarge(input.welcome, MAX_WELCOME_BYTES)))
      throw new AppError(413, 'message_too_large', 'the commit or Welcome is too large');
    if (input.epoch !== c.epoch) throw stale(c.epoch);
    const pending = await this.repo.pendingOf(conversationId);
    const states = new Map(pending.map((r) => [r.device_id, r.state]));
    for (const id of input.addedDeviceIds) {
      if (states.get(id) !== 'pending_add')
        throw new AppError(
          400,
          'validation_failed',
          `device ${id} is not waiting to be added to this conversation`,
        );
    }
    if (input.addedDeviceIds.length && !input.welcome)
      throw new AppError(400, 'validation_failed', 'a commit that adds devices needs a Welcome');
    const members = await this.repo.devicesOf(conversationId);
    for (const id of input.removedDeviceIds) {
      if (
        !members.some((m) => m.device_id === id && (m.state === 'member' || m.state === 'pending_remove'))
      ) {
        throw new AppError(400, 'validation_failed', `device ${id} is not a member of this conversation`);
      }
    }
    // Every pending removal must be part of the next commit: a revoked device must not see the next epoch.
    const mustRemove = pending.filter((r) => r.state === 'pending_remove').map((r) => r.device_id);
    const missing = mustRemove.filter((id) => !input.removedDeviceIds.includes(id));
    if (missing.length)
      throw new AppError(409, 'membership_pending', `the commit must also remove ${missing.join(', ')}`);
    try {
      const r = await this.repo.acceptCommit({
        conversationId,
        epoch: input.epoch,
        senderDeviceId: p.deviceId,
        commit: input.commit,
        welcome: input.welcome,
        added: input.addedDeviceIds,
        removed: input.removedDeviceIds,
        now: new Date().toISOString(),
      });
      this.bus.publish('queue.enqueued', { deviceIds: r.deviceIds });
      return { conversationId, epoch: input.epoch + 1, seq: r.seq };
    } catch (err) {
      if (err instanceof StaleEpoch) throw stale(err.currentEpoch);
      throw err;
    }
  }

  async send(
    p: DevicePrincipal,
    conversationId: string,
    input: { epoch: number; messageId: string; ciphertext: string },
  ) {
    // Every check (compliance block, membership, size, pending removal, epoch, duplicate) runs in
    // the group commit's transaction, with the insert; the answer comes once the batch committed.
    try {
      const r = await this.messages.submit({
        conversationId,
        epoch: input.epoch,
        senderDeviceId: p.deviceId,
        messageId: input.messageId,
        ciphertext: input.ciphertext,
        tooLarge: tooLarge(input.ciphertext),
        now: new Date().toISOString(),
      });
      return { conversationId, messageId: input.messageId, seq: r.seq, duplicate: r.duplicate };
    } catch (err) {
      if (err instanceof StaleEpoch) throw stale(err.currentEpoch);
      if (err instanceof Refused) throw refusal(err.reason);
      throw err;
    }
  }

  async queue(
    p: DevicePrincipal,
    after: number,
    limit: number,
  ): Promise<{ items: QueueItem[]; more: boolean }> {
    const rows = await this.repo.queue(p.deviceId, after, limit + 1);
    return { items: rows.slice(0, limit).map(presentItem), more: rows.length > limit };
  }

  /**
   * Several devices' queues at once (at most 100 devices): each device's items after its `after`,
   * in order. `complete` is false when the answer was cut at `limit` rows: then nothing may be
   * concluded from it and each device must read its own queue.
   */
  async queueMany(
    wanted: { deviceId: string; after: number }[],
    limit: number,
  ): Promise<{ items: Map<string, QueueItem[]>; complete: boolean }> {
    const rows = await this.repo.queueMany(wanted, limit);
    const items = new Map<string, QueueItem[]>();
    for (const r of rows) {
      const list = items.get(r.device_id);
      if (list) list.push(presentItem(r));
      else items.set(r.device_id, [presentItem(r)]);
    }
    return { items, complete: rows.length < limit };
  }

  async ack(p: DevicePrincipal, seqs: number[]) {
    return { acknowledged: await this.acks.submit({ deviceId: p.deviceId, seqs }) };
  }

  /** A new device joins every conversation of its user: it waits for a member's add commit. */
  async onDeviceActivated(deviceId: string, userId: string): Promise<void> {
    const ids = (await this.repo.conversationIdsOfUser(userId)).map((r) => r.conversation_id);
    await this.repo.addPendingDevice(ids, deviceId, new Date().toISOString());
    for (const conversationId of ids) await this.announce(conversationId);
  }

  /** A revoked device leaves every conversation: members are asked to commit its removal. */
  async onDeviceRevoked(deviceId: string): Promise<void> {
    const ids = await this.repo.markRevoked(deviceId, new Date().toISOString());
    for (const conversationId of ids) await this.announce(conversationId);
  }

  private async announce(conversationId: string): Promise<void> {
    const members = (await this.repo.devicesOf(conversationId))
      .filter((d) => d.state === 'member' && d.status === 'active')
      .map((d) => d.device_id);
    if (members.length)
      this.bus.publish('conversation.membership', { conversationId, memberDeviceIds: members });
  }

  async purge(retentionDays: number): Promise<void> {
    await this.repo.purgeOlderThan(new Date(Date.now() - retentionDays * 86_400_000).toISOString());
  }

  private async present(rows: ConversationRow[]): Promise<Conversation[]> {
    const ids = rows.map((r) => r.id);
    const [emails, pending] = await Promise.all([this.repo.memberEmails(ids), this.repo.pendingCounts(ids)]);
    return rows.map((r) => ({
      id: r.id,
      name: r.name,
      kind: r.kind as 'direct' | 'group',
      epoch: r.epoch,
      memberEmails: emails.get(r.id) ?? [],
      membershipPending: pending.has(r.id),
      createdAt: r.created_at,
    }));
  }
}

function presentItem(r: {
  seq: number;
  conversation_id: string;
  kind: string;
  epoch: number;
  client_message_id: string;
  sender_device_id: string;
  sender_email: string;
  body: string;
  created_at: string;
}): QueueItem {
  return {
    seq: Number(r.seq),
    conversationId: r.conversation_id,
    kind: r.kind as QueueItem['kind'],
    epoch: r.epoch,
    messageId: r.client_message_id,
    senderDeviceId: r.sender_device_id,
    senderEmail: r.sender_email,
    body: r.body,
    createdAt: r.created_at,
  };
}
