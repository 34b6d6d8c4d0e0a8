import { createHmac, randomBytes } from 'node:crypto';

/** A new endpoint signing secret: 32 random bytes, base64url, with a recognisable prefix. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64url')}`;
}

/**
 * The `x-enclave-signature` value: `v1=` and the hex HMAC-SHA-256, keyed with the secret's UTF-8
 * bytes, of `"<timestamp>.<body>"` — the timestamp is signed too, so a receiver that rejects old
 * timestamps also rejects replays (the scheme Stripe uses).
 */
export function webhookSignature(secret: string, timestamp: string, body: string): string {
  return `v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** The SecretBox context binding a sealed secret to its endpoint (a sealed value cannot be moved to another row). */
export const secretContext = (webhookId: string) => `webhook:${webhookId}`;
