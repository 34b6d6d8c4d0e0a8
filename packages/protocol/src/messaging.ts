import { z } from 'zod';
import { SignedCommandSchema } from './commands.js';
import { EmailSchema, IdSchema, IsoDateSchema } from './common.js';

/** An MLS message (RFC 9420 §6: MLSMessage, TLS-encoded) or an opaque device envelope, base64url. */
export const B64Schema = z
  .string()
  .regex(/^[A-Za-z0-9_-]*$/, 'base64url')
  .max(6_000_000);

/** Ciphertext bodies above this are refused (1 MiB decoded); attachments travel as blobs instead. */
export const MAX_MESSAGE_BYTES = 1024 * 1024;
/**
 * A Welcome carries the ratchet tree (RFC 9420 §12.4.3.3) with every member's certificate chain,
 * ~1.1 KiB per member: 4 MiB leaves room for groups of a few thousand devices.
 */
export const MAX_WELCOME_BYTES = 4 * 1024 * 1024;

// ── KeyPackages (RFC 9420 §10) ─────────────────────────────────────────────

/** KeyPackages a device keeps on the server; it tops up when told its stock is low. */
export const KEY_PACKAGE_TARGET = 20;
export const KEY_PACKAGE_LOW = 5;

export const KeyPackageUploadSchema = z
  .object({
    keyPackages: z.array(B64Schema.min(1)).max(100),
    /** Used only when the stock is empty; never consumed (RFC 9420 §16.8). */
    lastResort: B64Schema.min(1).optional(),
  })
  .strict();
export const KeyPackageStatusSchema = z.object({
  available: z.number().int(),
  hasLastResort: z.boolean(),
  low: z.boolean(),
  target: z.number().int(),
});

// ── Conversations ──────────────────────────────────────────────────────────

export const ConversationMemberDeviceSchema = z.object({
  deviceId: IdSchema,
  userEmail: z.string(),
  state: z.enum(['pending_add', 'member', 'pending_remove']),
  certificateFingerprint: z.string(),
});

export const ConversationSchema = z
  .object({
    id: IdSchema,
    name: z.string().nullable(),
    kind: z.enum(['direct', 'group']),
    epoch: z.number().int(),
    memberEmails: z.array(z.string()),
    /** True when devices are waiting to be added or removed by a member's commit. */
    membershipPending: z.boolean(),
    createdAt: IsoDateSchema,
  })
  .meta({ id: 'Conversation' });
export type Conversation = z.infer<typeof ConversationSchema>;

export const ConversationCreateSchema = z
  .object({
    /** The other people (the creator's user is added automatically). */
    memberEmails: z.array(EmailSchema).min(1).max(500),
    name: z.string().trim().min(1).max(200).optional(),
  })
  .strict();

/** A device to add, with the KeyPackage the server claimed for it. */
export const PendingAddSchema = z.object({
  deviceId: IdSchema,
  userEmail: z.string(),
  keyPackage: B64Schema,
});
/** What a member device must commit before the conversation moves on. */
export const PendingMembershipSchema = z.object({
  conversationId: IdSchema,
  epoch: z.number().int(),
  adds: z.array(PendingAddSchema),
  removes: z.array(z.object({ deviceId: IdSchema, userEmail: z.string() })),
  /** Devices of members that could not be added yet (no KeyPackage on the server). */
  waiting: z.array(IdSchema),
});
export type PendingMembership = z.infer<typeof PendingMembershipSchema>;

export const ConversationCreatedSchema = z.object({
  conversation: ConversationSchema,
  pending: PendingMembershipSchema,
});
export const ConversationListSchema = z.object({ items: z.array(ConversationSchema) });
export const ConversationMembersSchema = z.object({
  conversationId: IdSchema,
  epoch: z.number().int(),
  devices: z.array(ConversationMemberDeviceSchema),
});

/**
 * A commit for `epoch` (the epoch it was created in). The first commit for an epoch wins; a later one
 * gets 409 `stale_epoch` (RFC 9420 §14: the DS orders handshake messages).
 */
export const CommitSubmitSchema = z
  .object({
    epoch: z.number().int().min(0),
    commit: B64Schema.min(1),
    /** Welcome (plus whatever the joiner needs, e.g. the ratchet tree) for the added devices, opaque to the server. */
    welcome: B64Schema.min(1).optional(),
    addedDeviceIds: z.array(IdSchema).max(1000).default([]),
    removedDeviceIds: z.array(IdSchema).max(1000).default([]),
  })
  .strict();
export const CommitAcceptedSchema = z.object({
  conversationId: IdSchema,
  epoch: z.number().int(),
  seq: z.number().int(),
});

/** An application message (MLS PrivateMessage) for the conversation's current epoch. */
export const MessageSubmitSchema = z
  .object({
    epoch: z.number().int().min(0),
    /** Chosen by the sending device; resubmitting the same id is idempotent. */
    messageId: IdSchema,
    ciphertext: B64Schema.min(1),
  })
  .strict();
export const MessageAcceptedSchema = z.object({
  conversationId: IdSchema,
  messageId: IdSchema,
  seq: z.number().int(),
  duplicate: z.boolean(),
});

// ── The per-device queue ───────────────────────────────────────────────────

export const QueueItemKindSchema = z.enum(['commit', 'welcome', 'application']);
/** One delivery to one device; `seq` increases per device and is what the device acknowledges. */
export const QueueItemSchema = z.object({
  seq: z.number().int(),
  conversationId: IdSchema,
  kind: QueueItemKindSchema,
  epoch: z.number().int(),
  messageId: IdSchema,
  senderDeviceId: IdSchema,
  senderEmail: z.string(),
  body: B64Schema,
  createdAt: IsoDateSchema,
});
export type QueueItem = z.infer<typeof QueueItemSchema>;
export const QueueQuerySchema = z
  .object({
    after: z.coerce.number().int().min(0).default(0),
    limit: z.coerce.number().int().min(1).max(500).default(100),
  })
  .strict();
export const QueuePageSchema = z.object({ items: z.array(QueueItemSchema), more: z.boolean() });
export const QueueAckSchema = z.object({ seqs: z.array(z.number().int().min(1)).min(1).max(1000) }).strict();
export const QueueAckResultSchema = z.object({ acknowledged: z.number().int() });

// ── Stream frames (WebSocket /api/v1/stream) ───────────────────────────────

/** Frames a device sends. Anything else is answered with an `error` frame and the socket stays open. */
export const ClientFrameSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('auth'), token: z.string().min(10).max(200) }).strict(),
  z.object({ type: z.literal('resume'), after: z.number().int().min(0) }).strict(),
  z.object({ type: z.literal('ack'), seqs: z.array(z.number().int().min(1)).min(1).max(1000) }).strict(),
  z.object({ type: z.literal('ping'), t: z.number() }).strict(),
  z.object({ type: z.literal('pong'), t: z.number() }).strict(),
  /**
   * Sends an application message over the stream, as `POST /api/v1/conversations/:id/messages`
   * does (same checks, same idempotency by messageId), without an HTTP request per message. The
   * server answers `sent` once it is stored, or `error` with the messageId. A device's `send`
   * frames are handled in order. Larger than a frame allows (MAX_CLIENT_FRAME_BYTES): use HTTP.
   */
  z
    .object({
      type: z.literal('send'),
      conversationId: IdSchema,
      epoch: z.number().int().min(0),
      messageId: IdSchema,
      ciphertext: B64Schema.min(1),
    })
    .strict(),
]);
export type ClientFrame = z.infer<typeof ClientFrameSchema>;

/** Frames the server sends. */
export const ServerFrameSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('ready'), deviceId: IdSchema, heartbeatMs: z.number().int() }),
  z.object({ type: z.literal('deliver'), item: QueueItemSchema }),
  z.object({ type: z.literal('membership'), conversationId: IdSchema }),
  z.object({ type: z.literal('command'), command: SignedCommandSchema }),
  /** The device's effective policy changed: fetch it (`GET /api/v1/device/me`). */
  z.object({ type: z.literal('policy_changed') }),
  z.object({ type: z.literal('keypackages_low'), available: z.number().int() }),
  z.object({ type: z.literal('ping'), t: z.number() }),
  z.object({ type: z.literal('pong'), t: z.number() }),
  /** A `send` frame's message is stored and queued (`duplicate`: it already was). */
  z.object({
    type: z.literal('sent'),
    conversationId: IdSchema,
    messageId: IdSchema,
    seq: z.number().int(),
    duplicate: z.boolean(),
  }),
  /** `messageId` is set when the error answers a `send` frame. */
  z.object({
    type: z.literal('error'),
    code: z.string(),
    message: z.string(),
    messageId: IdSchema.optional(),
  }),
]);
export type ServerFrame = z.infer<typeof ServerFrameSchema>;

/** Largest frame the server reads from a device (bigger ones close the socket with 1009). */
export const MAX_CLIENT_FRAME_BYTES = 64 * 1024;
