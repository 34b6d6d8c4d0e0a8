import fs from 'node:fs';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Db } from '../../platform/db/database.js';
import { AppError } from '../../platform/http/app-error.js';
import type { DevicePrincipal } from '../../platform/http/route.js';

const tooLarge = (limit: number) =>
  new AppError(413, 'body_too_large', `attachments may be at most ${limit} bytes`);

/** Default largest attachment: 100 MB (a setting: `--attachment-limit-mb`). */
export const DEFAULT_ATTACHMENT_LIMIT = 100 * 1024 * 1024;

/**
 * Encrypted attachments. The device encrypts the file with a fresh key it sends inside the MLS
 * message; the server stores the ciphertext as a blob, streamed to disk — never whole in memory —
 * and serves it only to member devices of its conversation.
 */
export class AttachmentService {
  private readonly dir: string;

  constructor(
    private readonly db: Db,
    dataDir: string,
    private readonly limit: number = DEFAULT_ATTACHMENT_LIMIT,
  ) {
    this.dir = path.join(dataDir, 'attachments');
  }

  private async requireMember(p: DevicePrincipal, conversationId: string): Promise<void> {
    const r = await this.db
      .selectFrom('conversation_devices')
      .select('state')
      .where('conversation_id', '=', conversationId)
      .where('device_id', '=', p.deviceId)
      .where('state', 'in', ['member', 'pending_remove'])
      .executeTakeFirst();
    if (!r) throw new AppError(403, 'not_a_member', 'this device is not a member of that conversation');
  }

  async upload(
    p: DevicePrincipal,
    conversationId: string,
    body: Readable,
    declaredLength: number | undefined,
  ) {
    await this.requireMember(p, conversationId);
    if (declaredLength !== undefined && declaredLength > this.limit) {
      body.resume(); // drain, so the client gets the answer instead of a reset
      throw tooLarge(this.limit);
    }
    await fs.promises.mkdir(this.dir, { recursive: true, mode: 0o700 });
    const id = crypto.randomUUID();
    const file = path.join(this.dir, id);
    let size = 0;
    const limit = this.limit;
    // Past the limit, bytes are counted and dropped rather than the request torn down, so the client
    // reads a clean 413; a client that keeps sending far past it is cut off.
    const counter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        size += chunk.length;
        if (size > limit * 2 + 1024 * 1024) done(new Error('upload far over the limit'));
        else done(null, size > limit ? undefined : chunk);
      },
    });
    try {
      await pipeline(body, counter, fs.createWriteStream(file, { mode: 0o600, flags: 'wx' }));
    } catch {
      await fs.promises.rm(file, { force: true });
      throw size > limit ? tooLarge(limit) : new AppError(400, 'bad_request', 'the upload was interrupted');
    }
    if (size > limit) {
      await fs.promises.rm(file, { force: true });
      throw tooLarge(limit);
    }
    if (size === 0) {
      await fs.promises.rm(file, { force: true });
      throw new AppError(400, 'validation_failed', 'the attachment is empty');
    }
    await this.db
      .insertInto('attachments')
      .values({
        id,
        conversation_id: conversationId,
        uploader_device_id: p.deviceId,
        size,
        created_at: new Date().toISOString(),
      })
      .execute();
    return { attachmentId: id, size };
  }

  async download(p: DevicePrincipal, id: string): Promise<{ stream: Readable; size: number }> {
    const row = await this.db.selectFrom('attachments').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) throw new AppError(404, 'not_found', 'attachment not found');
    await this.requireMember(p, row.conversation_id);
    return { stream: fs.createReadStream(path.join(this.dir, id)), size: Number(row.size) };
  }
}
