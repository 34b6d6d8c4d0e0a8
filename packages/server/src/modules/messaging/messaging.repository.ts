import type { Transaction } from 'kysely';
import type { Db } from '../../platform/db/database.js';
import type { Database } from '../../platform/db/schema.js';

export type ConversationRow = Database['conversations'];
type Trx = Transaction<Database>;

const RACED = Symbol('raced');

/** Thrown inside a transaction when the conversation moved on (another commit won the epoch). */
export class StaleEpoch extends Error {
  constructor(readonly currentEpoch: number) {
    super('stale epoch');
  }
}

/** KeyPackages, conversations, ciphertext messages and the per-device delivery queue. */
export class MessagingRepository {
  constructor(private readonly db: Db) {}

  // KeyPackages (RFC 9420 §10): one-time, except the last-resort one.

  async addKeyPackages(
    deviceId: string,
    packages: string[],
    lastResort: string | undefined,
    now: string,
  ): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      if (packages.length) {
        await trx
          .insertInto('key_packages')
          .values(
            packages.map((kp) => ({
              id: crypto.randomUUID(),
              device_id: deviceId,
              key_package: kp,
              last_resort: 0,
              created_at: now,
            })),
          )
          .execute();
      }
      if (lastResort) {
        await trx
          .deleteFrom('key_packages')
          .where('device_id', '=', deviceId)
          .where('last_resort', '=', 1)
          .execute();
        await trx
          .insertInto('key_packages')
          .values({
            id: crypto.randomUUID(),
            device_id: deviceId,
            key_package: lastResort,
            last_resort: 1,
            created_at: now,
          })
          .execute();
      }
    });
  }

  async keyPackageStock(deviceId: string): Promise<{ available: number; hasLastResort: boolean }> {
    const rows = await this.db
      .selectFrom('key_packages')
      .select(['last_resort', (eb) => eb.fn.countAll<number>().as('n')])
      .where('device_id', '=', deviceId)
      .groupBy('last_resort')
      .execute();
    return {
      available: Number(rows.find((r) => r.last_resort === 0)?.n ?? 0),
      hasLastResort: rows.some((r) => r.last_resort === 1),
    };
  }

  /** Takes one KeyPackage of a device: the oldest one-time package, else the last-resort one (kept). */
  async claimKeyPackage(deviceId: string): Promise<string | undefined> {
    // Losing a race for a one-time package means someone else took it: try the next one, so a
    // concurrent claim never reports the device as `waiting` while it still has packages.
    for (let attempt = 0; attempt < 50; attempt++) {
      const r = await this.tryClaimKeyPackage(deviceId);
      if (r !== RACED) return r;
    }
    return undefined;
  }

  private async tryClaimKeyPackage(deviceId: string): Promise<string | undefined | typeof RACED> {
    return this.db.transaction().execute(async (trx) => {
      const row = await trx
        .selectFrom('key_packages')
        .select(['id', 'key_package', 'last_resort'])
        .where('device_id', '=', deviceId)
        .orderBy('last_resort', 'asc')
        .orderBy('created_at', 'asc')
        .limit(1)
        .executeTakeFirst();
      if (!row) return undefined;
      if (row.last_resort === 0) {
        const d = await trx.deleteFrom('key_packages').where('id', '=', row.id).executeTakeFirst();
        if (Number(d.numDeletedRows) !== 1) return RACED; // claimed concurrently
      }
      return row.key_package;
    });
  }

  // Conversations

  async createConversation(
    row: ConversationRow,
    userIds: string[],
    devices: { deviceId: string; state: string }[],
  ): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx.insertInto('conversations').values(row).execute();
      await trx
        .insertInto('conversation_users')
        .values(userIds.map((user_id) => ({ conversation_id: row.id, user_id })))
        .execute();
      await trx
        .insertInto('conversation_devices')
        .values(
          devices.map((d) => ({
            conversation_id: row.id,
            device_id: d.deviceId,
            state: d.state,
            updated_at: row.created_at,
          })),
        )
        .execute();
    });
  }

  conversation(id: string) {
    return this.db.selectFrom('conversations').selectAll().where('id', '=', id).executeTakeFirst();
  }

  deviceState(conversationId: string, deviceId: string) {
    return this.db
      .selectFrom('conversation_devices')
      .select('state')
      .where('conversation_id', '=', conversationId)
      .where('device_id', '=', deviceId)
      .executeTakeFirst();
  }

  /** Conversations in which the device is a member (or is about to be removed). */
  conversationsOfDevice(deviceId: string) {
    return this.db
      .selectFrom('conversations')
      .innerJoin('conversation_devices', 'conversation_devices.conversation_id', 'conversations.id')
      .selectAll('conversations')
      .where('conversation_devices.device_id', '=', deviceId)
      .where('conversation_devices.state', 'in', ['member', 'pending_remove'])
      .orderBy('conversations.updated_at', 'desc')
      .execute();
  }

  async memberEmails(conversationIds: string[]): Promise<Map<string, string[]>> {
    const map = new Map<string, string[]>();
    if (!conversationIds.length) return map;
    const rows = await this.db
      .selectFrom('conversation_users')
      .innerJoin('users', 'users.id', 'conversation_users.user_id')
      .select(['conversation_users.conversation_id', 'users.email'])
      .where('conversation_users.conversation_id', 'in', conversationIds)
      .orderBy('users.email')
      .execute();
    for (const r of rows) map.set(r.conversation_id, [...(map.get(r.conversation_id) ?? []), r.email]);
    return map;
  }

  async pendingCounts(conversationIds: string[]): Promise<Set<string>> {
    if (!conversationIds.length) return new Set();
    const rows = await this.db
      .selectFrom('conversation_devices')
      .select('conversation_id')
      .where('conversation_id', 'in', conversationIds)
      .where('state', 'in', ['pending_add', 'pending_remove'])
      .distinct()
      .execute();
    return new Set(rows.map((r) => r.conversation_id));
  }

  devicesOf(conversationId: string) {
    return this.db
      .selectFrom('conversation_devices')
      .innerJoin('devices', 'devices.id', 'conversation_devices.device_id')
      .innerJoin('users', 'users.id', 'devices.user_id')
      .select([
        'conversation_devices.device_id',
        'conversation_devices.state',
        'users.email',
        'devices.certificate',
        'devices.status',
      ])
      .where('conversation_devices.conversation_id', '=', conversationId)
      .orderBy('users.email')
      .execute();
  }

  /** Active devices of users (for creating a conversation or adding a new device). */
  activeDevicesOfUsers(userIds: string[]) {
    if (!userIds.length) return Promise.resolve([]);
    return this.db
      .selectFrom('devices')
      .select(['id', 'user_id'])
      .where('user_id', 'in', userIds)
      .where('status', '=', 'active')
      .execute();
  }

  conversationIdsOfUser(userId: string) {
    return this.db
      .selectFrom('conversation_users')
      .select('conversation_id')
      .where('user_id', '=', userId)
      .execute();
  }

  async addPendingDevice(conversationIds: string[], deviceId: string, now: string): Promise<void> {
    if (!conversationIds.length) return;
    for (const conversation_id of conversationIds) {
      await this.db
        .insertInto('conversation_devices')
        .values({ conversation_id, device_id: deviceId, state: 'pending_add', updated_at: now })
        .onConflict((oc) => oc.columns(['conversation_id', 'device_id']).doNothing())
        .execute();
    }
  }

  /** A revoked device: not yet added → dropped; a member → waits for a member's remove commit. Returns the affected conversations. */
  async markRevoked(deviceId: string, now: string): Promise<string[]> {
    return this.db.transaction().execute(async (trx) => {
      await trx
        .deleteFrom('conversation_devices')
        .where('device_id', '=', deviceId)
        .where('state', '=', 'pending_add')
        .execute();
      const rows = await trx
        .updateTable('conversation_devices')
        .set({ state: 'pending_remove', updated_at: now })
        .where('device_id', '=', deviceId)
        .where('state', '=', 'member')
        .returning('conversation_id')
        .execute();
      // Nothing more is delivered to a revoked device.
      await trx.deleteFrom('deliveries').where('device_id', '=', deviceId).execute();
      return rows.map((r) => r.conversation_id);
    });
  }

  pendingOf(conversationId: string) {
    return this.db
      .selectFrom('conversation_devices')
      .innerJoin('devices', 'devices.id', 'conversation_devices.device_id')
      .innerJoin('users', 'users.id', 'devices.user_id')
      .select(['conversation_devices.device_id', 'conversation_devices.state', 'users.email'])
      .where('conversation_devices.conversation_id', '=', conversationId)
      .where('conversation_devices.state', 'in', ['pending_add', 'pending_remove'])
      .execute();
  }

  /** Compliance may block a device's messaging (`devices.messaging_blocked`). */
  async isMessagingBlocked(deviceId: string): Promise<boolean> {
    const r = await this.db
      .selectFrom('devices')
      .select('messaging_blocked')
      .where('id', '=', deviceId)
      .executeTakeFirst();
    return Number(r?.messaging_blocked ?? 0) === 1;
  }

  async hasPendingRemoval(conversationId: string): Promise<boolean> {
    const r = await this.db
      .selectFrom('conversation_devices')
      .select('device_id')
      .where('conversation_id', '=', conversationId)
      .where('state', '=', 'pending_remove')
      .limit(1)
      .executeTakeFirst();
    return r !== undefined;
  }

  /**
   * Accepts a commit for `epoch` if the conversation is still at that epoch (RFC 9420 §14: the first
   * commit for an epoch wins), updates membership and queues the commit and the Welcome — atomically.
   */
  async acceptCommit(input: {
    conversationId: string;
    epoch: number;
    senderDeviceId: string;
    commit: string;
    welcome: string | undefined;
    added: string[];
    removed: string[];
    now: string;
  }): Promise<{ seq: number; deviceIds: string[] }> {
    return this.db.transaction().execute(async (trx) => {
      const upd = await trx
        .updateTable('conversations')
        .set({ epoch: input.epoch + 1, updated_at: input.now })
        .where('id', '=', input.conversationId)
        .where('epoch', '=', input.epoch)
        .executeTakeFirst();
      if (Number(upd.numUpdatedRows) !== 1) {
        const c = await trx
          .selectFrom('conversations')
          .select('epoch')
          .where('id', '=', input.conversationId)
          .executeTakeFirst();
        throw new StaleEpoch(c?.epoch ?? -1);
      }
      const members = await trx
        .selectFrom('conversation_devices')
        .innerJoin('devices', 'devices.id', 'conversation_devices.device_id')
        .select(['conversation_devices.device_id', 'devices.status'])
        .where('conversation_devices.conversation_id', '=', input.conversationId)
        .where('conversation_devices.state', 'in', ['member', 'pending_remove'])
        .execute();
      const commitId = crypto.randomUUID();
      await trx
        .insertInto('messages')
        .values({
          id: commitId,
          conversation_id: input.conversationId,
          kind: 'commit',
          epoch: input.epoch,
          client_message_id: commitId,
          sender_device_id: input.senderDeviceId,
          body: input.commit,
          created_at: input.now,
        })
        .execute();
      const commitTargets = members
        .filter((m) => m.device_id !== input.senderDeviceId && m.status === 'active')
        .map((m) => m.device_id);
      const seq = await enqueue(trx, commitId, commitTargets, input.now);
      let welcomeTargets: string[] = [];
      if (input.added.length && input.welcome) {
        const welcomeId = crypto.randomUUID();
        await trx
          .insertInto('messages')
          .values({
            id: welcomeId,
            conversation_id: input.conversationId,
            kind: 'welcome',
            epoch: input.epoch + 1,
            client_message_id: welcomeId,
            sender_device_id: input.senderDeviceId,
            body: input.welcome,
            created_at: input.now,
          })
          .execute();
        welcomeTargets = input.added;
        await enqueue(trx, welcomeId, welcomeTargets, input.now);
      }
      if (input.added.length) {
        await trx
          .updateTable('conversation_devices')
          .set({ state: 'member', updated_at: input.now })
          .where('conversation_id', '=', input.conversationId)
          .where('device_id', 'in', input.added)
          .execute();
      }
      if (input.removed.length) {
        await trx
          .deleteFrom('conversation_devices')
          .where('conversation_id', '=', input.conversationId)
          .where('device_id', 'in', input.removed)
          .execute();
      }
      return { seq, deviceIds: [...commitTargets, ...welcomeTargets] };
    });
  }

  /** Queues an application message for every member device but the sender; idempotent by message id. */
  async acceptMessage(input: {
    conversationId: string;
    epoch: number;
    senderDeviceId: string;
    messageId: string;
    ciphertext: string;
    now: string;
  }) {
    return this.db.transaction().execute(async (trx) => {
      const existing = await trx
        .selectFrom('messages')
        .select(['id'])
        .where('conversation_id', '=', input.conversationId)
        .where('client_message_id', '=', input.messageId)
        .executeTakeFirst();
      if (existing) return { seq: 0, deviceIds: [] as string[], duplicate: true };
      const c = await trx
        .selectFrom('conversations')
        .select('epoch')
        .where('id', '=', input.conversationId)
        .executeTakeFirst();
      if (!c || c.epoch !== input.epoch) throw new StaleEpoch(c?.epoch ?? -1);
      const targets = (
        await trx
          .selectFrom('conversation_devices')
          .innerJoin('devices', 'devices.id', 'conversation_devices.device_id')
          .select('conversation_devices.device_id')
          .where('conversation_devices.conversation_id', '=', input.conversationId)
          .where('conversation_devices.state', '=', 'member')
          .where('devices.status', '=', 'active')
          // A device blocked by compliance gets no application messages (commits still reach it, so
          // its MLS state stays current and it can read again once the block is lifted).
          .where('devices.messaging_blocked', '=', 0)
          .where('conversation_devices.device_id', '!=', input.senderDeviceId)
          .execute()
      ).map((r) => r.device_id);
      const id = crypto.randomUUID();
      await trx
        .insertInto('messages')
        .values({
          id,
          conversation_id: input.conversationId,
          kind: 'application',
          epoch: input.epoch,
          client_message_id: input.messageId,
          sender_device_id: input.senderDeviceId,
          body: input.ciphertext,
          created_at: input.now,
        })
        .execute();
      await trx
        .updateTable('conversations')
        .set({ updated_at: input.now })
        .where('id', '=', input.conversationId)
        .execute();
      const seq = await enqueue(trx, id, targets, input.now);
      return { seq, deviceIds: targets, duplicate: false };
    });
  }

  // The per-device queue

  queue(deviceId: string, after: number, limit: number) {
    return this.db
      .selectFrom('deliveries')
      .innerJoin('messages', 'messages.id', 'deliveries.message_id')
      .innerJoin('devices', 'devices.id', 'messages.sender_device_id')
      .innerJoin('users', 'users.id', 'devices.user_id')
      .select([
        'deliveries.seq',
        'messages.conversation_id',
        'messages.kind',
        'messages.epoch',
        'messages.client_message_id',
        'messages.sender_device_id',
        'users.email as sender_email',
        'messages.body',
        'messages.created_at',
      ])
      .where('deliveries.device_id', '=', deviceId)
      .where('deliveries.seq', '>', after)
      .orderBy('deliveries.seq', 'asc')
      .limit(limit)
      .execute();
  }

  /**
   * Removes acknowledged deliveries, then drops the body of any message no device still waits for.
   * The row itself (its client id) stays until the retention purge, so a sender's retry after a lost
   * response is still recognised as a duplicate and not delivered twice.
   */
  async ack(deviceId: string, seqs: number[]): Promise<number> {
    return this.db.transaction().execute(async (trx) => {
      const rows = await trx
        .selectFrom('deliveries')
        .select(['seq', 'message_id'])
        .where('device_id', '=', deviceId)
        .where('seq', 'in', seqs)
        .execute();
      if (!rows.length) return 0;
      await trx
        .deleteFrom('deliveries')
        .where('device_id', '=', deviceId)
        .where(
          'seq',
          'in',
          rows.map((r) => r.seq),
        )
        .execute();
      const messageIds = [...new Set(rows.map((r) => r.message_id))];
      const still = await trx
        .selectFrom('deliveries')
        .select('message_id')
        .where('message_id', 'in', messageIds)
        .distinct()
        .execute();
      const done = messageIds.filter((m) => !still.some((s) => s.message_id === m));
      if (done.length) await trx.updateTable('messages').set({ body: '' }).where('id', 'in', done).execute();
      return rows.length;
    });
  }

  /** Drops deliveries older than the retention period, and the messages left without any. */
  async purgeOlderThan(before: string): Promise<void> {
    await this.db.deleteFrom('deliveries').where('created_at', '<', before).execute();
    await this.db
      .deleteFrom('messages')
      .where('created_at', '<', before)
      .where((eb) =>
        eb.not(
          eb.exists(
            eb.selectFrom('deliveries').select('seq').whereRef('deliveries.message_id', '=', 'messages.id'),
          ),
        ),
      )
      .execute();
  }
}

async function enqueue(trx: Trx, messageId: string, deviceIds: string[], now: string): Promise<number> {
  if (!deviceIds.length) return 0;
  const rows = await trx
    .insertInto('deliveries')
    .values(deviceIds.map((device_id) => ({ device_id, message_id: messageId, created_at: now })))
    .returning('seq')
    .execute();
  return Math.max(...rows.map((r) => Number(r.seq)));
}
