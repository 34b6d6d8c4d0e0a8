import { AdminClient, ApiError, joinPem, verifyCaChain, type Transport } from '@enclave/client';
import type { CliContext } from './context.js';

/** A server whose enterprise CA has been checked, with a transport pinned to it. */
export interface TrustedServer {
  server: string;
  /** Pinned to the enterprise CA. */
  transport: Transport;
  /** Issuing CA then root, PEM. */
  caPem: string;
  caFingerprint: string;
  /** Set when the CA was accepted on first use (nothing to compare it with). */
  trustedOnFirstUse: boolean;
}

/** What to compare the server's CA with. */
export interface TrustOptions {
  server: string;
  /** Given by the operator (`--ca-fingerprint`): must match. */
  expectedFingerprint?: string;
  /** Remembered from an earlier login to the same server: must match unless `expectedFingerprint` overrides. */
  knownFingerprint?: string;
}

/**
 * Bootstraps trust in a server: fetches `GET /api/v1/pki/ca` without TLS verification (the answer
 * is checked, not trusted), verifies the chain, compares the root fingerprint with the operator's
 * (or a remembered one), and returns a transport pinned to that CA.
 */
export async function trustServer(ctx: CliContext, opts: TrustOptions): Promise<TrustedServer> {
  const bootstrap = new AdminClient(ctx.transport({ baseUrl: opts.server, insecure: true }));
  const info = await bootstrap.caInfo();
  const { caFingerprint } = await verifyCaChain(info.chain, opts.expectedFingerprint);
  if (
    opts.expectedFingerprint === undefined &&
    opts.knownFingerprint !== undefined &&
    opts.knownFingerprint !== caFingerprint
  ) {
    throw new ApiError(
      0,
      'server_untrusted',
      `the server's enterprise CA changed since the last login (was ${opts.knownFingerprint}, now ${caFingerprint}) — if the server was re-initialised on purpose, pass --ca-fingerprint ${caFingerprint}`,
    );
  }
  if (info.caFingerprint.toLowerCase() !== caFingerprint) {
    throw new ApiError(
      0,
      'server_untrusted',
      `the server reports CA fingerprint ${info.caFingerprint} but its chain ends in ${caFingerprint}`,
    );
  }
  const caPem = joinPem(info.chain);
  return {
    server: opts.server,
    transport: ctx.transport({ baseUrl: opts.server, ca: caPem }),
    caPem,
    caFingerprint,
    trustedOnFirstUse: opts.expectedFingerprint === undefined && opts.knownFingerprint === undefined,
  };
}

/** The stderr warning shown when a CA is trusted on first use. */
export function firstUseWarning(trusted: TrustedServer): string {
  return `trusting ${trusted.server} on first use: enterprise CA fingerprint ${trusted.caFingerprint} — compare it with the one \`enclave init\` printed, and pass --ca-fingerprint next time`;
}
