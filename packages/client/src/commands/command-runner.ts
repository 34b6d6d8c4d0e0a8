import fs from 'node:fs/promises';
import { hasSanUri, isIssuedBy, parseCertificate, verifyWithCertificate } from '@enclave/crypto';
import {
  COMMAND_SIGNER_URI,
  type CommandEnvelope,
  CommandEnvelopeSchema,
  commandSigningInput,
  type SignedCommand,
} from '@enclave/protocol';

/** Why a device refused a command; reported to the server as the failure reason. */
export type CommandRejectReason =
  | 'signer_untrusted'
  | 'signature_invalid'
  | 'envelope_invalid'
  | 'envelope_mismatch'
  | 'wrong_device'
  | 'expired'
  | 'not_yet_valid'
  | 'replayed_nonce';

export class CommandRejected extends Error {
  constructor(readonly reason: CommandRejectReason) {
    super(`command refused: ${reason}`);
    this.name = 'CommandRejected';
  }
}

/** What the platform does for each command. `wipe` is the platform hook for a full device wipe. */
export interface CommandHandlers {
  lock(message: string | undefined): Promise<void>;
  unlock(): Promise<void>;
  wipeWork(): Promise<void>;
  wipe(): Promise<void>;
  ping?(): Promise<void>;
}

export interface CommandRunnerOptions {
  deviceId: string;
  /** The issuing CA PEM from the device's `ca.pem` (first certificate). */
  issuingCaPem: string;
  /** Where used nonces are remembered until their command expires. */
  nonceFile: string;
  handlers: CommandHandlers;
  /** Reports a state to the server. */
  report(commandId: string, state: 'acknowledged' | 'done' | 'failed', reason?: string): Promise<void>;
  now?: () => Date;
}

const CLOCK_SKEW_MS = 5 * 60_000;

/**
 * Verifies and executes server commands on a device: the signer must be the enterprise's command key
 * (certified by the issuing CA, marked with its SAN), the Ed25519 signature must cover the envelope,
 * the envelope must name this device, be unexpired, and carry a nonce never seen before.
 */
export class CommandRunner {
  constructor(private readonly opts: CommandRunnerOptions) {}

  /** Checks a command without running it; throws {@link CommandRejected}. */
  async verify(cmd: SignedCommand): Promise<CommandEnvelope> {
    const now = (this.opts.now ?? (() => new Date()))();
    let signer;
    try {
      signer = parseCertificate(cmd.signerCertificate);
    } catch {
      throw new CommandRejected('signer_untrusted');
    }
    if (
      !hasSanUri(signer, COMMAND_SIGNER_URI) ||
      !(await isIssuedBy(signer, parseCertificate(this.opts.issuingCaPem), now))
    ) {
      throw new CommandRejected('signer_untrusted');
    }
    const sig = Buffer.from(cmd.signature, 'base64url');
    if (!(await verifyWithCertificate(signer, Buffer.from(commandSigningInput(cmd.envelope), 'utf8'), sig))) {
      throw new CommandRejected('signature_invalid');
    }
    let env: CommandEnvelope;
    try {
      env = CommandEnvelopeSchema.parse(JSON.parse(cmd.envelope));
    } catch {
      throw new CommandRejected('envelope_invalid');
    }
    if (env.commandId !== cmd.commandId || env.type !== cmd.type)
      throw new CommandRejected('envelope_mismatch');
    if (env.deviceId !== this.opts.deviceId) throw new CommandRejected('wrong_device');
    if (Date.parse(env.expiresAt) <= now.getTime()) throw new CommandRejected('expired');
    if (Date.parse(env.issuedAt) > now.getTime() + CLOCK_SKEW_MS) throw new CommandRejected('not_yet_valid');
    const seen = await this.loadNonces();
    if (seen.some((n) => n.nonce === env.nonce)) throw new CommandRejected('replayed_nonce');
    return env;
  }

  /** Verifies, acknowledges, executes and reports one command. Returns the final state. */
  async run(cmd: SignedCommand): Promise<'done' | 'failed'> {
    let env: CommandEnvelope;
    try {
      env = await this.verify(cmd);
    } catch (err) {
      const reason = err instanceof CommandRejected ? err.reason : 'envelope_invalid';
      await this.opts.report(cmd.commandId, 'failed', reason).catch(() => undefined); // a forged id may not exist
      return 'failed';
    }
    await this.remember(env);
    await this.opts.report(env.commandId, 'acknowledged');
    try {
      switch (env.type) {
        case 'lock':
          await this.opts.handlers.lock(env.params.message);
          break;
        case 'unlock':
          await this.opts.handlers.unlock();
          break;
        case 'wipe-work':
          await this.opts.handlers.wipeWork();
          break;
        case 'wipe':
          await this.opts.handlers.wipe();
          break;
        case 'ping':
          await this.opts.handlers.ping?.();
          break;
        case 'revoke':
          break; // the server already revoked the certificate; nothing to do here
      }
    } catch (err) {
      await this.opts.report(
        env.commandId,
        'failed',
        `execution_failed: ${(err as Error).message}`.slice(0, 500),
      );
      return 'failed';
    }
    await this.opts.report(env.commandId, 'done');
    return 'done';
  }

  private async loadNonces(): Promise<{ nonce: string; expiresAt: string }[]> {
    try {
      return JSON.parse(await fs.readFile(this.opts.nonceFile, 'utf8')) as {
        nonce: string;
        expiresAt: string;
      }[];
    } catch {
      return [];
    }
  }

  private async remember(env: CommandEnvelope): Promise<void> {
    const now = Date.now();
    const kept = (await this.loadNonces()).filter((n) => Date.parse(n.expiresAt) > now);
    kept.push({ nonce: env.nonce, expiresAt: env.expiresAt });
    await fs.writeFile(this.opts.nonceFile, JSON.stringify(kept), { mode: 0o600 });
  }
}
