import type { Transaction } from 'kysely';
import type { Db } from '../../platform/db/database.js';
import type { Database } from '../../platform/db/schema.js';

export type ConversationRow = Database['conversations'];
type Trx = Transaction<Database>;

const RACED = Symbol('raced');
/** The lengths `queueMany` pads its device list to. */
const QUEUE_MANY_SIZES = [1, 2, 4, 8, 16, 32, 64, 100];

/** Thrown inside a transaction when the conversation moved on (another commit won the epoch). */
export class StaleEpoch extends Error {
  constructor(readonly currentEpoch: number) {
    super('stale epoch');
  }
}

/** A message refused by the checks `acceptMessages` makes (the service turns it into an AppError). */
export class Refused extends Error {
  constructor(readonly reason: 'blocked' | 'not_found' | 'not_member' | 'too_large' | 'pending_removal') {
    super(reason);
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

  /**
   * Queues application messages, a batch in one transaction (group commit): each message is checked
   * (duplicate by message id, epoch) and queued for every member device but its sender, in the batch's order, so
   * the order per conversation is the order of arrival. A refused message (stale epoch) comes back
   * as a StaleEpoch and writes nothing; the others are unaffected.
   */
  async acceptMessages(
    inputs: {
      conversationId: string;
      epoch: number;
      senderDeviceId: string;
      messageId: string;
      ciphertext: string;
      /** Over the size limit: refused after the checks that come first (blocked, membership). */
      tooLarge: boolean;
      now: string;
    }[],
  ): Promise<({ seq: number; deviceIds: string[]; duplicate: boolean } | StaleEpoch | Refused)[]> {
    if (!inputs.length) return [];
    return this.db.transaction().execute(async (trx) => {
      const convIds = [...new Set(inputs.map((i) => i.conversationId))];
      const blocked = new Set(
        (
          await trx
            .selectFrom('devices')
            .select(['id', 'messaging_blocked'])
            .where('id', 'in', [...new Set(inputs.map((i) => i.senderDeviceId))])
            .execute()
        )
          .filter((r) => Number(r.messaging_blocked) === 1)
          .map((r) => r.id),
      );
      const key = (c: string, m: string) => `${c}\u0000${m}`;
      const existing = new Set(
        (
          await trx
            .selectFrom('messages')
            .select(['conversation_id', 'client_message_id'])
            .where('conversation_id', 'in', convIds)
            .where(
              'client_message_id',
              'in',
              inputs.map((i) => i.messageId),
            )
            .execute()
        ).map((r) => key(r.conversation_id, r.client_message_id)),
      );
      const epochs = new Map(
        (
          await trx.selectFrom('conversations').select(['id', 'epoch']).where('id', 'in', convIds).execute()
        ).map((r) => [r.id, Number(r.epoch)]),
      );
      // Every device of these conversations: the senders' membership, pending removals, targets.
      const members = new Map<string, string[]>();
      const states = new Map<string, string>();
      const pendingRemoval = new Set<string>();
      for (const r of await trx
        .selectFrom('conversation_devices')
        .innerJoin('devices', 'devices.id', 'conversation_devices.device_id')
        .select([
          'conversation_devices.conversation_id',
          'conversation_devices.device_id',
          'conversation_devices.state',
          'devices.status',
          'devices.messaging_blocked',
        ])
        .where('conversation_devices.conversation_id', 'in', convIds)
        .orderBy('conversation_devices.device_id')
        .execute()) {
        states.set(key(r.conversation_id, r.device_id), r.state);
        if (r.state === 'pending_remove') pendingRemoval.add(r.conversation_id);
        // A device blocked by compliance gets no application messages (commits still reach it, so
        // its MLS state stays current and it can read again once the block is lifted).
        if (r.state === 'member' && r.status === 'active' && Number(r.messaging_blocked) === 0)
          members.set(r.conversation_id, [...(members.get(r.conversation_id) ?? []), r.device_id]);
      }

      const results: ({ seq: number; deviceIds: string[]; duplicate: boolean } | StaleEpoch | Refused)[] = [];
      const messageRows: Database['messages'][] = [];
      const deliveryRows: { device_id: string; message_id: string; created_at: string }[] = [];
      const accepted: { index: number; id: string }[] = [];
      inputs.forEach((input, index) => {
        // The checks, in the order the API documents them; the first that fails answers.
        const epoch = epochs.get(input.conversationId);
        const state = states.get(key(input.conversationId, input.senderDeviceId));
        const refusal = blocked.has(input.senderDeviceId)
          ? 'blocked'
          : epoch === undefined
            ? 'not_found'
            : state !== 'member' && state !== 'pending_remove'
              ? 'not_member'
              : input.tooLarge
                ? 'too_large'
                : pendingRemoval.has(input.conversationId)
                  ? 'pending_removal'
                  : null;
        if (refusal) {
          results.push(new Refused(refusal));
          return;
        }
        if (epoch !== input.epoch) {
          results.push(new StaleEpoch(epoch ?? -1));
          return;
        }
        const k = key(input.conversationId, input.messageId);
        if (existing.has(k)) {
          results.push({ seq: 0, deviceIds: [], duplicate: true });
          return;
        }
        existing.add(k); // a second copy in the same batch is a duplicate
        const id = crypto.randomUUID();
        const targets = (members.get(input.conversationId) ?? []).filter((d) => d !== input.senderDeviceId);
        messageRows.push({
          id,
          conversation_id: input.conversationId,
          kind: 'application',
          epoch: input.epoch,
          client_message_id: input.messageId,
          sender_device_id: input.senderDeviceId,
          body: input.ciphertext,
          created_at: input.now,
        });
        for (const device_id of targets)
          deliveryRows.push({ device_id, message_id: id, created_at: input.now });
        accepted.push({ index, id });
        results.push({ seq: 0, deviceIds: targets, duplicate: false });
      });
      if (!messageRows.length) return results;
      for (const rows of chunks(messageRows, 200)) await trx.insertInto('messages').values(rows).execute();
      // Conversations with a new message: one statement, stamped with the batch's latest time.
      const touched = [...new Set(messageRows.map((m) => m.conversation_id))];
      const latest = messageRows.reduce((t, m) => (m.created_at > t ? m.created_at : t), '');
      for (const ids of chunks(touched, 500))
        await trx.updateTable('conversations').set({ updated_at: latest }).where('id', 'in', ids).execute();
      const maxSeq = new Map<string, number>();
      for (const rows of chunks(deliveryRows, 500)) {
        const out = await trx
          .insertInto('deliveries')
          .values(rows)
          .returning(['seq', 'message_id'])
          .execute();
        for (const r of out) maxSeq.set(r.message_id, Math.max(maxSeq.get(r.message_id) ?? 0, Number(r.seq)));
      }
      for (const a of accepted) {
        const r = results[a.index] as { seq: number };
        r.seq = maxSeq.get(a.id) ?? 0;
      }
      return results;
    });
  }

  // The per-device queue

  /** Deliveries joined with their message and its sender: the columns a queue item is made of. */
  private queueItems() {
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
      ]);
  }

  queue(deviceId: string, after: number, limit: number) {
    return this.queueItems()
      .where('deliveries.device_id', '=', deviceId)
      .where('deliveries.seq', '>', after)
      .orderBy('deliveries.seq', 'asc')
      .limit(limit)
      .execute();
  }

  /**
   * Several devices' queues in one statement: each device's deliveries after its own `after`, in
   * `seq` order, at most `limit` rows in all (the caller treats a full answer as incomplete). The
   * list is padded to a few fixed lengths by repeating its last entry, so that the statement's text
   * (and its cached prepared statement) is one of a handful.
   */
  queueMany(wanted: { deviceId: string; after: number }[], limit: number) {
    const last = wanted[wanted.length - 1];
    if (!last) return Promise.resolve([]);
    const padded = [...wanted];
    const size = QUEUE_MANY_SIZES.find((n) => n >= wanted.length) ?? wanted.length;
    while (padded.length < size) padded.push(last);
    return this.queueItems()
      .select('deliveries.device_id')
      .where((eb) =>
        eb.or(
          padded.map((w) =>
            eb.and([eb('deliveries.device_id', '=', w.deviceId), eb('deliveries.seq', '>', w.after)]),
          ),
        ),
      )
      .orderBy('deliveries.seq', 'asc')
      .limit(limit)
      .execute();
  }

  /**
   * Removes acknowledged deliveries — many devices' requests in one transaction (group commit) —
   * then drops the body of any message no device still waits for. The row itself (its client id)
   * stays until the retention purge, so a sender's retry after a lost response is still recognised
   * as a duplicate and not delivered twice. Answers how many deliveries each request removed; a
   * delivery asked for twice in the batch counts for the first request only.
   */
  async ackMany(requests: { deviceId: string; seqs: number[] }[]): Promise<number[]> {
    const wanted = requests.filter((r) => r.seqs.length);
    if (!wanted.length) return requests.map(() => 0);
    return this.db.transaction().execute(async (trx) => {
      const removed = new Set<string>();
      const messageIds = new Set<string>();
      // One statement per 200 requests: (device_id = ? AND seq IN (…)) OR …
      for (const part of chunks(wanted, 200)) {
        const rows = await trx
          .deleteFrom('deliveries')
          .where((eb) =>
            eb.or(part.map((r) => eb.and([eb('device_id', '=', r.deviceId), eb('seq', 'in', r.seqs)]))),
          )
          .returning(['device_id', 'seq', 'message_id'])
          .execute();
        for (const r of rows) {
          removed.add(`${r.device_id}:${Number(r.seq)}`);
          messageIds.add(r.message_id);
        }
      }
      // Drop the body of every message no device waits for any more (the row stays for dedup).
      for (const ids of chunks([...messageIds], 500)) {
        await trx
          .updateTable('messages')
          .set({ body: '' })
          .where('id', 'in', ids)
          .where((eb) =>
            eb.not(
              eb.exists(
                eb
                  .selectFrom('deliveries')
                  .select('deliveries.seq')
                  .whereRef('deliveries.message_id', '=', 'messages.id'),
              ),
            ),
          )
          .execute();
      }
      return requests.map((r) => {
        let n = 0;
        for (const seq of new Set(r.seqs)) {
          if (removed.delete(`${r.deviceId}:${seq}`)) n++;
        }
        return n;
      });
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

function chunks<T>(xs: T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}
