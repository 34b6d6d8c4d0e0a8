import type { Command } from 'commander';
import fs from 'node:fs';
import { z } from 'zod';
import {
  activateDevice,
  authenticateDevice,
  DEVICE_PASSPHRASE_ENV,
  DeviceClient,
  hasDevice,
  normalizeFingerprint,
  parseActivationQr,
  readDeviceDir,
  writeDeviceDir,
  devicePaths,
  type ActivationQr,
} from '@enclave/client';
import { type PostureReport, PostureReportSchema } from '@enclave/protocol';
import { action, withCommonOptions, type CommandEnv } from '../lib/action.js';
import { CliError } from '../lib/cli-error.js';
import type { CliContext } from '../lib/context.js';
import { CommonFlags, FingerprintFlag, ServerUrlFlag, readSecretFile } from '../lib/flags.js';
import { fields, table } from '../lib/output.js';
import { CLI_VERSION } from '../version.js';
import { openMessenger, registerMessagingCommands } from './messages.js';

const DeviceCommonFlags = { ...CommonFlags, config: z.string().optional(), dir: z.string().min(1) } as const;
const ActivateFlags = z.object({
  ...DeviceCommonFlags,
  server: ServerUrlFlag.optional(),
  email: z.string().min(1).optional(),
  activationPassword: z.string().min(1).optional(),
  activationPasswordFile: z.string().min(1).optional(),
  qr: z.string().min(1).optional(),
  platform: z.string().trim().min(1).max(40).optional(),
  name: z.string().trim().min(1).max(100).optional(),
  caFingerprint: FingerprintFlag.optional(),
});
const SyncFlags = z.object({
  ...DeviceCommonFlags,
  server: ServerUrlFlag.optional(),
  // Posture report (sent only when one of these is given).
  postureFile: z.string().min(1).optional(),
  platform: z.string().optional(),
  osVersion: z.string().optional(),
  clientVersion: z.string().optional(),
  passcodeSet: z.boolean().optional(),
  /** commander's `--no-passcode`: false when given, true otherwise. */
  passcode: z.boolean().optional(),
  encrypted: z.boolean().optional(),
  rooted: z.boolean().optional(),
});
type SyncOpts = z.output<typeof SyncFlags>;

/**
 * The posture report `device sync` sends: the JSON file's values, overridden by flags; null when
 * neither a file nor a posture flag is given. Booleans not given are false (what was not seen).
 */
function postureOf(o: SyncOpts, defaults: { platform: string; clientVersion: string }): PostureReport | null {
  const flagged =
    o.osVersion !== undefined ||
    o.passcodeSet !== undefined ||
    o.passcode === false ||
    o.encrypted !== undefined ||
    o.rooted !== undefined;
  if (!o.postureFile && !flagged) return null;
  if (o.passcodeSet && o.passcode === false)
    throw new CliError('invalid_flags', 'give --passcode-set or --no-passcode, not both');
  let file: Record<string, unknown> = {};
  if (o.postureFile) {
    try {
      file = JSON.parse(fs.readFileSync(o.postureFile, 'utf8')) as Record<string, unknown>;
    } catch (err) {
      throw new CliError(
        'invalid_flags',
        `cannot read the posture file ${o.postureFile}: ${(err as Error).message}`,
      );
    }
  }
  const merged = {
    platform: defaults.platform,
    clientVersion: defaults.clientVersion,
    passcodeSet: false,
    storageEncrypted: false,
    rooted: false,
    ...file,
    ...(o.platform !== undefined ? { platform: o.platform } : {}),
    ...(o.osVersion !== undefined ? { osVersion: o.osVersion } : {}),
    ...(o.clientVersion !== undefined ? { clientVersion: o.clientVersion } : {}),
    ...(o.passcodeSet ? { passcodeSet: true } : {}),
    ...(o.passcode === false ? { passcodeSet: false } : {}),
    ...(o.encrypted !== undefined ? { storageEncrypted: o.encrypted } : {}),
    ...(o.rooted !== undefined ? { rooted: o.rooted } : {}),
  };
  const parsed = PostureReportSchema.safeParse(merged);
  if (!parsed.success)
    throw new CliError(
      'invalid_flags',
      `posture report: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'report'}: ${i.message}`).join('; ')}`,
    );
  return parsed.data;
}

type ActivateOpts = z.output<typeof ActivateFlags>;

/** Merges one setting from a flag and the QR payload; both given and different is an error. */
function pick(
  flag: string | undefined,
  fromQr: string | undefined,
  name: string,
  same: (a: string, b: string) => boolean = (a, b) => a === b,
): string | undefined {
  if (flag !== undefined && fromQr !== undefined && !same(flag, fromQr)) {
    throw new CliError(
      'usage_error',
      `${name} disagrees with the activation QR payload — pass one or the other`,
    );
  }
  return flag ?? fromQr;
}

/** Works out server, email, password and expected CA from flags and/or the QR payload. */
async function activationInputs(o: ActivateOpts) {
  let qr: ActivationQr | undefined;
  if (o.qr !== undefined) {
    qr = parseActivationQr(o.qr);
  }
  const qrServer = qr ? ServerUrlFlag.safeParse(qr.server) : undefined;
  if (qrServer && !qrServer.success)
    throw new CliError(
      'usage_error',
      `the activation QR payload names an invalid server (${qr?.server ?? ''})`,
    );
  const server = pick(o.server, qrServer?.data, '--server');
  const email = pick(
    o.email,
    qr?.email,
    '--email',
    (a, b) => a.trim().toLowerCase() === b.trim().toLowerCase(),
  );
  const expectedCaFingerprint = pick(
    o.caFingerprint,
    qr ? normalizeFingerprint(qr.caFingerprint) : undefined,
    '--ca-fingerprint',
  );
  if (o.activationPassword !== undefined && o.activationPasswordFile !== undefined) {
    throw new CliError(
      'usage_error',
      'pass either --activation-password or --activation-password-file, not both',
    );
  }
  const flagPassword =
    o.activationPasswordFile !== undefined
      ? await readSecretFile(o.activationPasswordFile, '--activation-password-file')
      : o.activationPassword;
  const password = pick(flagPassword, qr?.password, '--activation-password');
  if (!server) throw new CliError('usage_error', 'missing --server URL (or --qr PAYLOAD)');
  if (!email) throw new CliError('usage_error', 'missing --email (or --qr PAYLOAD)');
  if (!password)
    throw new CliError(
      'usage_error',
      'missing --activation-password or --activation-password-file (or --qr PAYLOAD)',
    );
  return { server, email, password, expectedCaFingerprint };
}

function passphraseOf(ctx: CliContext): string | null {
  return ctx.env[DEVICE_PASSPHRASE_ENV] || null;
}

/** `enclave device activate|sync` — this machine as a managed device. */
export function registerDeviceCommands(program: Command, env: CommandEnv): void {
  const { ctx } = env;
  const device = program.command('device').description('this machine as an Enclave device');

  withCommonOptions(
    device
      .command('activate')
      .description(
        'activate this device with a one-time activation password (OPAQUE: the password is never sent)',
      )
      .requiredOption('--dir <dir>', 'device directory to create (certificate, CA chain, key)')
      .option('--server <url>', 'server URL')
      .option('--email <email>', 'the user this device belongs to')
      .option('--activation-password <password>', 'the one-time activation password')
      .option('--activation-password-file <file>', 'file whose first line is the activation password')
      .option(
        '--qr <payload>',
        'the activation QR payload (JSON) instead of --server/--email/--activation-password',
      )
      .option('--platform <platform>', `platform name (default node-${process.platform})`)
      .option('--name <name>', 'device name shown to administrators')
      .option('--ca-fingerprint <fp>', 'expected enterprise CA fingerprint')
      .option('--config <dir>', 'accepted for symmetry with the admin commands; device state lives in --dir'),
  ).action(
    action(env, ActivateFlags, async (o) => {
      const inputs = await activationInputs(o);
      // Check before activating: a used activation password cannot be used again.
      if (await hasDevice(o.dir))
        throw new CliError(
          'device_dir_exists',
          `${devicePaths(o.dir).dir} already holds an activated device — choose another --dir`,
        );
      const platform = o.platform ?? `node-${process.platform}`;
      const activated = await activateDevice({
        transport: ctx.transport({ baseUrl: inputs.server, insecure: true }), // OPAQUE, not TLS, authenticates the server here
        email: inputs.email,
        activationPassword: inputs.password,
        platform,
        clientVersion: CLI_VERSION,
        ...(o.name ? { deviceName: o.name } : {}),
        ...(inputs.expectedCaFingerprint ? { expectedCaFingerprint: inputs.expectedCaFingerprint } : {}),
      });
      const paths = await writeDeviceDir(
        o.dir,
        {
          record: {
            deviceId: activated.deviceId,
            server: inputs.server,
            userEmail: activated.userEmail,
            caFingerprint: activated.caFingerprint,
            platform,
            clientVersion: CLI_VERSION,
            activatedAt: ctx.now().toISOString(),
          },
          certificatePem: activated.certificatePem,
          chainPem: activated.chainPem,
          privateKeyPkcs8: activated.privateKeyPkcs8,
        },
        { passphrase: passphraseOf(ctx) },
      );
      const data = {
        deviceId: activated.deviceId,
        certificatePath: paths.certificate,
        caPath: paths.ca,
        keyPath: paths.key,
        dir: paths.dir,
        userEmail: activated.userEmail,
        caFingerprint: activated.caFingerprint,
        server: inputs.server,
      };
      const warnings = passphraseOf(ctx)
        ? []
        : [`${paths.key} is not encrypted — set ${DEVICE_PASSPHRASE_ENV} before activating to encrypt it`];
      // Upload KeyPackages at once so colleagues can add this device to conversations (RFC 9420 §10).
      try {
        const m = await openMessenger(ctx, o.dir, inputs.server);
        await m.ensureKeyPackages();
        await m.close();
      } catch (err) {
        warnings.push(
          `KeyPackages not uploaded yet (${(err as Error).message}); \`enclave device sync\` retries`,
        );
      }
      return {
        data,
        warnings,
        text: `Activated device ${data.deviceId} for ${data.userEmail}.\n${fields([
          ['certificate', data.certificatePath],
          ['CA chain', data.caPath],
          ['key', data.keyPath],
          ['CA fingerprint', data.caFingerprint],
        ])}`,
      };
    }),
  );

  withCommonOptions(
    device
      .command('sync')
      .description('check in: authenticate with the device key and fetch status, policy and pending commands')
      .requiredOption('--dir <dir>', 'device directory')
      .option('--server <url>', 'server URL (default: the one the device was activated with)')
      .option('--config <dir>', 'accepted for symmetry with the admin commands; device state lives in --dir')
      .option('--posture-file <file>', 'send a posture report read from this JSON file (flags override it)')
      .option('--platform <name>', 'posture: platform (default: the one the device was activated with)')
      .option('--os-version <version>', 'posture: OS version, e.g. 17.4')
      .option('--client-version <version>', 'posture: client version (default: the one activated with)')
      .option('--passcode-set', 'posture: a passcode is set')
      .option('--no-passcode', 'posture: no passcode is set')
      .option('--encrypted', 'posture: storage is encrypted')
      .option('--rooted', 'posture: the device is rooted or jailbroken'),
  ).action(
    action(env, SyncFlags, async (o) => {
      const local = await readDeviceDir(o.dir, { passphrase: passphraseOf(ctx) });
      const transport = ctx.transport({ baseUrl: o.server ?? local.record.server, ca: local.caPem });
      const { token } = await authenticateDevice({
        transport,
        deviceId: local.record.deviceId,
        privateKey: local.privateKey,
      });
      const client = new DeviceClient(transport, token);
      const report = postureOf(o, {
        platform: local.record.platform,
        clientVersion: local.record.clientVersion,
      });
      // The posture goes first, so the status below already reflects its evaluation.
      const posture = report ? await client.reportPosture(report) : null;
      const self = await client.me();
      // The evaluation of the report just sent is the freshest answer.
      const compliance = posture?.compliance ?? self.compliance;
      const reasons = posture?.reasons ?? self.complianceReasons ?? [];
      if (self.status === 'revoked')
        throw new CliError(
          'device_revoked',
          `device ${self.deviceId} has been revoked by the enterprise — activate again with a new activation password`,
        );
      // Commands first (verified against the enterprise command key), then messaging upkeep:
      // KeyPackage stock, queued Welcomes/commits, pending membership commits. Decrypted messages
      // stay sealed in the device's inbox until `enclave device receive`.
      const syncWarnings: string[] = [];
      let commands: { commandId: string; type: string; state: 'done' | 'failed' }[] = [];
      try {
        const m = await openMessenger(ctx, o.dir, o.server ?? local.record.server);
        commands = await m.runCommands(self.commands);
        if (!m.isWiped) {
          await m.ensureKeyPackages();
          await m.sync();
        }
        await m.close();
      } catch (err) {
        syncWarnings.push(`device upkeep failed: ${(err as Error).message}`);
      }
      for (const c of commands.filter((x) => x.state === 'failed'))
        syncWarnings.push(`command ${c.commandId} (${c.type}) was refused or failed`);
      const data = {
        deviceId: self.deviceId,
        userEmail: self.userEmail,
        status: self.status,
        compliance,
        complianceReasons: reasons,
        ...(posture
          ? { posture: report, messagingBlocked: posture.messagingBlocked, quarantined: posture.quarantined }
          : {}),
        policy: self.policy,
        commands,
      };
      const pending = commands.length
        ? table(
            ['COMMAND', 'TYPE', 'STATE'],
            commands.map((c) => [c.commandId, c.type, c.state]),
          )
        : '(no pending commands)';
      return {
        data,
        warnings: syncWarnings,
        text: `${fields([
          ['device', self.deviceId],
          ['user', self.userEmail],
          ['status', self.status],
          ['compliance', compliance],
          ...reasons.map((r): [string, string] => [
            '  reason',
            `${r.code} → ${r.action} ${r.enforcedAt ? 'applied' : `from ${r.enforceAt}`} (${r.message})`,
          ]),
          ['policy', self.policy === null ? 'none' : 'assigned'],
        ])}\n\n${pending}`,
      };
    }),
  );
  registerMessagingCommands(device, env);
}
