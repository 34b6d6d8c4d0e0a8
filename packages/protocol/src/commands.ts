import { z } from 'zod';
import { IdSchema, IsoDateSchema } from './common.js';

/** Remote commands a device executes after verifying the server's signature. */
export const CommandTypeSchema = z.enum(['lock', 'unlock', 'wipe-work', 'wipe', 'revoke', 'ping']);
export type CommandType = z.infer<typeof CommandTypeSchema>;
export const CommandStateSchema = z.enum([
  'queued',
  'delivered',
  'acknowledged',
  'done',
  'failed',
  'expired',
]);
export type CommandState = z.infer<typeof CommandStateSchema>;

/** How long a command stays valid: a device refuses it afterwards (no late wipes). */
export const COMMAND_TTL_MS = 7 * 24 * 3600_000;

/** What the server signs (canonical JSON string). The nonce makes every command single-use. */
export const CommandEnvelopeSchema = z
  .object({
    v: z.literal(1),
    commandId: IdSchema,
    deviceId: IdSchema,
    type: CommandTypeSchema,
    params: z.object({ message: z.string().max(500).optional() }).strict(),
    nonce: z.string().min(16).max(100),
    issuedAt: IsoDateSchema,
    expiresAt: IsoDateSchema,
  })
  .strict();
export type CommandEnvelope = z.infer<typeof CommandEnvelopeSchema>;

/** A command as a device receives it: the envelope, the server command key's signature, its certificate. */
export const SignedCommandSchema = z.object({
  commandId: IdSchema,
  type: CommandTypeSchema,
  envelope: z.string().max(4096),
  signature: z.string().max(200),
  signerCertificate: z.string().max(8192),
});
export type SignedCommand = z.infer<typeof SignedCommandSchema>;

/** The device's report on a command. */
export const CommandAckSchema = z
  .object({ state: z.enum(['acknowledged', 'done', 'failed']), reason: z.string().max(500).optional() })
  .strict();
export const CommandAckResultSchema = z.object({ commandId: IdSchema, state: CommandStateSchema });

/** Command history entry, as administrators see it. */
export const CommandRecordSchema = z.object({
  commandId: IdSchema,
  type: CommandTypeSchema,
  state: CommandStateSchema,
  createdAt: IsoDateSchema,
  updatedAt: IsoDateSchema.optional(),
  message: z.string().nullable().optional(),
  reason: z.string().nullable().optional(),
  deliveredAt: IsoDateSchema.nullable().optional(),
  acknowledgedAt: IsoDateSchema.nullable().optional(),
  completedAt: IsoDateSchema.nullable().optional(),
  expiresAt: IsoDateSchema.nullable().optional(),
});

/** SAN URI that marks the server's command-signing certificate (and nothing else). */
export const COMMAND_SIGNER_URI = 'urn:enclave:command-signer';

/**
 * The bytes the server signs for a command: domain-separated from device authentication and MLS.
 */
export function commandSigningInput(envelope: string): string {
  return `enclave-command-v1\n${envelope}`;
}
