import fs from 'node:fs/promises';
import path from 'node:path';
import { open, seal } from '@enclave/crypto';
import { z } from 'zod';

/** A message decrypted on this device and not yet handed to the app. */
export const InboxMessageSchema = z.object({
  conversationId: z.string(),
  messageId: z.string(),
  from: z.string(),
  fromDeviceId: z.string(),
  text: z.string(),
  sentAt: z.string(),
  attachments: z
    .array(
      z.object({
        id: z.string(),
        name: z.string(),
        size: z.number(),
        key: z.string(),
        iv: z.string(),
        tag: z.string(),
      }),
    )
    .optional(),
});
export type InboxMessage = z.infer<typeof InboxMessageSchema>;

const MessengerStateSchema = z.object({
  v: z.literal(1),
  /** Message ids already handed to the inbox: at-least-once on the wire, exactly-once to the app. */
  seen: z.array(z.string()),
  inbox: z.array(InboxMessageSchema),
  /** Problems with single deliveries (e.g. a message that does not decrypt), kept for the user to see. */
  problems: z.array(
    z.object({ seq: z.number(), conversationId: z.string(), code: z.string(), message: z.string() }),
  ),
});
export type MessengerState = z.infer<typeof MessengerStateSchema>;

const MAX_SEEN = 10_000;
const STATE_FILE = 'messenger.state';
const MLS_FILE = 'mls.state';
const CONTEXT = 'enclave-messenger-state-v1';

/**
 * The device's messaging state on disk: the MLS engine's sealed state and the inbox, both
 * AES-256-GCM-sealed under the device storage key — plaintext never touches the disk unsealed.
 * Files are written to a temporary name and renamed, so a crash leaves the old or the new state.
 */
export class MessengerStore {
  constructor(
    private readonly dir: string,
    private readonly storageKey: Uint8Array,
  ) {}

  async loadMls(): Promise<Uint8Array | undefined> {
    try {
      return await fs.readFile(path.join(this.dir, MLS_FILE));
    } catch {
      return undefined;
    }
  }

  async load(): Promise<MessengerState> {
    let sealed: Buffer;
    try {
      sealed = await fs.readFile(path.join(this.dir, STATE_FILE));
    } catch {
      return { v: 1, seen: [], inbox: [], problems: [] };
    }
    return MessengerStateSchema.parse(JSON.parse(open(this.storageKey, sealed, CONTEXT).toString('utf8')));
  }

  async save(state: MessengerState, mls: Uint8Array): Promise<void> {
    const trimmed = { ...state, seen: state.seen.slice(-MAX_SEEN), problems: state.problems.slice(-100) };
    await writeAtomic(path.join(this.dir, MLS_FILE), mls);
    await writeAtomic(
      path.join(this.dir, STATE_FILE),
      seal(this.storageKey, Buffer.from(JSON.stringify(trimmed)), CONTEXT),
    );
  }
}

async function writeAtomic(file: string, data: Uint8Array): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await fs.writeFile(tmp, data, { mode: 0o600 });
  await fs.rename(tmp, file);
}
