import { z } from 'zod';
import { IdSchema, IsoDateSchema, PageQuerySchema, pageOf } from './common.js';

/**
 * Every event a webhook can receive — the one list publishers and subscribers share. A module that
 * emits one publishes `webhook.event` on the server bus with `{ type, data }` (or, for
 * `device.activated`/`device.revoked`, its own bus event, which the webhooks module maps).
 */
export const WEBHOOK_EVENT_TYPES = [
  'user.created',
  'device.activated',
  'device.revoked',
  'device.compliance_changed',
  'command.state_changed',
] as const;
export const WebhookEventTypeSchema = z.enum(WEBHOOK_EVENT_TYPES);
export type WebhookEventType = z.infer<typeof WebhookEventTypeSchema>;

/** The event `POST /api/v1/webhooks/:id/test` sends; endpoints cannot subscribe to it, they always get it. */
export const WEBHOOK_TEST_EVENT = 'webhook.test';

/** An endpoint's filter: event types, or `*` for every event type. */
export const WebhookEventFilterSchema = z.union([WebhookEventTypeSchema, z.literal('*')]);

/** Hosts that may be reached over plain `http://`: the loopback interface only (local relays, tests). */
const LOOPBACK_HOSTS = ['127.0.0.1', 'localhost', '[::1]'];

/**
 * A webhook URL: `https://` only — except `http://` to the loopback interface (127.0.0.1,
 * localhost, ::1), which never leaves the machine and is what the tests use. Credentials in the URL
 * are refused, since URLs are shown in lists and the audit log.
 */
export const WebhookUrlSchema = z
  .string()
  .trim()
  .max(2000)
  .pipe(z.url({ message: 'a URL' }))
  .superRefine((value, ctx) => {
    const url = new URL(value);
    if (url.username || url.password)
      ctx.addIssue({ code: 'custom', message: 'no credentials in the URL: verify the signature instead' });
    if (url.protocol === 'https:') return;
    if (url.protocol === 'http:' && LOOPBACK_HOSTS.includes(url.hostname)) return;
    ctx.addIssue({ code: 'custom', message: 'an https:// URL (http:// only to 127.0.0.1 or localhost)' });
  });

const DescriptionSchema = z.string().trim().max(500);
const EventsSchema = z
  .array(WebhookEventFilterSchema)
  .min(1)
  .max(WEBHOOK_EVENT_TYPES.length + 1);

/** A webhook endpoint as the API shows it. The signing secret is never part of it. */
export const WebhookSchema = z
  .object({
    id: IdSchema,
    url: z.string(),
    description: z.string(),
    events: z.array(z.string()),
    enabled: z.boolean(),
    createdAt: IsoDateSchema,
    updatedAt: IsoDateSchema,
  })
  .meta({ id: 'Webhook' });
export type Webhook = z.infer<typeof WebhookSchema>;

export const WebhookCreateSchema = z
  .object({
    url: WebhookUrlSchema,
    events: EventsSchema,
    description: DescriptionSchema.default(''),
    enabled: z.boolean().default(true),
  })
  .strict();
export const WebhookUpdateSchema = z
  .object({
    url: WebhookUrlSchema.optional(),
    events: EventsSchema.optional(),
    description: DescriptionSchema.optional(),
    enabled: z.boolean().optional(),
  })
  .strict();

/** What creation and `rotate-secret` answer: the endpoint and its signing secret, shown this once. */
export const WebhookWithSecretSchema = z
  .object({ webhook: WebhookSchema, secret: z.string() })
  .meta({ id: 'WebhookWithSecret' });
export type WebhookWithSecret = z.infer<typeof WebhookWithSecretSchema>;

export const WebhookListSchema = z.object({ items: z.array(WebhookSchema) });

export const WEBHOOK_DELIVERY_STATES = ['pending', 'delivered', 'failed'] as const;

/** One try to deliver an event. */
export const WebhookAttemptSchema = z.object({
  at: IsoDateSchema,
  statusCode: z.number().int().nullable(),
  error: z.string().nullable(),
  durationMs: z.number().int(),
});

/** One event for one endpoint: `pending` until a 2xx answer (`delivered`) or the last retry (`failed`). */
export const WebhookDeliverySchema = z
  .object({
    id: IdSchema,
    webhookId: IdSchema,
    eventId: IdSchema,
    event: z.string(),
    status: z.enum(WEBHOOK_DELIVERY_STATES),
    attempts: z.number().int(),
    lastStatusCode: z.number().int().nullable(),
    lastError: z.string().nullable(),
    nextAttemptAt: IsoDateSchema.nullable(),
    createdAt: IsoDateSchema,
    updatedAt: IsoDateSchema,
    deliveredAt: IsoDateSchema.nullable(),
    attemptLog: z.array(WebhookAttemptSchema),
  })
  .meta({ id: 'WebhookDelivery' });
export type WebhookDelivery = z.infer<typeof WebhookDeliverySchema>;
export const WebhookDeliveryQuerySchema = PageQuerySchema.omit({ q: true })
  .extend({ status: z.enum(WEBHOOK_DELIVERY_STATES).optional() })
  .strict();
export const WebhookDeliveryPageSchema = pageOf(WebhookDeliverySchema);

/**
 * The JSON body POSTed to an endpoint. Headers: `x-enclave-event` (type), `x-enclave-delivery`
 * (delivery id, the same on every retry), `x-enclave-timestamp` (Unix seconds of this attempt) and
 * `x-enclave-signature: v1=<hex HMAC-SHA-256(secret, "<timestamp>.<body>")>`.
 */
export const WebhookPayloadSchema = z.object({
  id: IdSchema,
  type: z.string(),
  occurredAt: IsoDateSchema,
  data: z.record(z.string(), z.unknown()),
});
export type WebhookPayload = z.infer<typeof WebhookPayloadSchema>;
