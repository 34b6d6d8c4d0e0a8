import { deriveKey, open, seal } from './aead.js';

/**
 * The activation channel: after OPAQUE (RFC 9807) both sides hold the same session key. Each
 * direction gets its own key (HKDF, RFC 5869) and every message is AES-256-GCM with the attempt id
 * as associated data, so the device learns the enterprise CA and sends its CSR over a channel that
 * only the holder of the activation password and the enterprise server can read — TLS is not trusted.
 */
export interface ActivationChannel {
  sealToServer(value: unknown): string;
  openFromServer(sealed: string): unknown;
  sealToDevice(value: unknown): string;
  openFromDevice(sealed: string): unknown;
}

/** Builds the channel from the base64url OPAQUE session key that both sides computed. */
export function activationChannel(sessionKeyB64Url: string, attemptId: string): ActivationChannel {
  const ikm = Buffer.from(sessionKeyB64Url, 'base64url');
  const toServer = deriveKey(ikm, 'enclave activation v1 device->server');
  const toDevice = deriveKey(ikm, 'enclave activation v1 server->device');
  const ctx = `activation:${attemptId}`;
  const enc = (k: Buffer, v: unknown) =>
    seal(k, Buffer.from(JSON.stringify(v), 'utf8'), ctx).toString('base64url');
  const dec = (k: Buffer, s: string): unknown =>
    JSON.parse(open(k, Buffer.from(s, 'base64url'), ctx).toString('utf8'));
  return {
    sealToServer: (v) => enc(toServer, v),
    openFromServer: (s) => dec(toDevice, s),
    sealToDevice: (v) => enc(toDevice, v),
    openFromDevice: (s) => dec(toServer, s),
  };
}
