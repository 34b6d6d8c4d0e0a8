import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';

const ListenSchema = z
  .string()
  .regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/, 'HOST:PORT, e.g. 127.0.0.1:8443')
  .transform((s) => {
    const i = s.lastIndexOf(':');
    const host = s.slice(0, i).replace(/^\[|\]$/g, '');
    const port = Number(s.slice(i + 1));
    return { host, port };
  })
  .refine((l) => l.port >= 0 && l.port <= 65535, 'port must be 0–65535');

/** Everything `enclave server` accepts, validated before anything starts. */
export const ServerConfigSchema = z
  .object({
    dataDir: z
      .string()
      .min(1)
      .transform((d) => path.resolve(d)),
    dbUrl: z
      .string()
      .regex(/^(postgres(ql)?:\/\/|sqlite:)/, 'a postgres://… or sqlite:FILE URL')
      .optional(),
    listen: ListenSchema.prefault('127.0.0.1:8443'),
    /** Plain-HTTP Prometheus listener (`/metrics`), off unless set; keep it on loopback or firewalled. */
    metricsListen: ListenSchema.optional(),
    publicUrl: z.url({ protocol: /^https$/ }).optional(),
    tlsCertFile: z.string().optional(),
    tlsKeyFile: z.string().optional(),
    natsUrl: z.string().optional(),
    /** Worker processes sharing the listener, database and bus (default: one per core; 1 = no cluster). */
    workers: z
      .number()
      .int()
      .min(1)
      .max(64)
      .default(() => Math.min(64, os.availableParallelism())),
    deviceLimit: z.number().int().min(1).max(100).default(5),
    /** Largest attachment in MB (default 100). */
    attachmentLimitMb: z.number().int().min(1).max(10_000).default(100),
    /** A command for more devices than this needs a second administrator's approval (default 10). */
    approvalThreshold: z.number().int().min(1).max(100_000).default(10),
    /** Seconds an approved bulk action waits, cancellable, before it runs (default 60). */
    approvalDelaySeconds: z.number().int().min(0).max(86_400).default(60),
    /** Devices one administrator may wipe per hour (default 20). */
    wipeLimitPerHour: z.number().int().min(1).max(100_000).default(20),
    /** Organisation name; used only when this start creates the installation. */
    organization: z.string().trim().min(1).max(100).optional(),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    json: z.boolean().default(false),
  })
  .strict()
  .refine(
    (c) => (c.tlsCertFile === undefined) === (c.tlsKeyFile === undefined),
    '--tls-cert and --tls-key go together',
  );
export type ServerConfigInput = z.input<typeof ServerConfigSchema>;
export type ServerConfig = z.output<typeof ServerConfigSchema>;

export const InitConfigSchema = z
  .object({
    dataDir: z
      .string()
      .min(1)
      .transform((d) => path.resolve(d)),
    dbUrl: z
      .string()
      .regex(/^(postgres(ql)?:\/\/|sqlite:)/)
      .optional(),
    organization: z.string().trim().min(1).max(100),
    adminEmail: z.string().trim().toLowerCase().pipe(z.email()),
    adminPassword: z.string().min(12, 'the admin password needs at least 12 characters').max(256),
  })
  .strict();
export type InitConfigInput = z.input<typeof InitConfigSchema>;

/** Turns a config validation error into one line for the operator. */
export function configErrorLine(err: z.ZodError): string {
  const i = err.issues[0];
  return i ? `invalid option ${i.path.join('.') || ''}: ${i.message}`.replace(' :', ':') : 'invalid options';
}
