import type { Command } from 'commander';
import QRCode from 'qrcode';
import { z } from 'zod';
import { ACTIVATION_MAX_TTL_S, ACTIVATION_MIN_TTL_S } from '@enclave/protocol';
import { action, withCommonOptions, type CommandEnv } from '../lib/action.js';
import { withAdmin } from '../lib/admin-session.js';
import { CliError } from '../lib/cli-error.js';
import { formatDuration, parseDuration } from '../lib/duration.js';
import { ConfigFlags, parseId } from '../lib/flags.js';
import { table } from '../lib/output.js';

const CreateFlags = z.object({ ...ConfigFlags, email: z.string().min(1), expires: z.string().optional() });
const ListFlags = z.object({ ...ConfigFlags, email: z.string().min(1) });
const RevokeFlags = z.object({ ...ConfigFlags });

/** `--expires` in seconds, within the server's bounds. */
export function activationTtl(expires: string | undefined): number | undefined {
  if (expires === undefined) return undefined;
  const seconds = parseDuration(expires);
  if (seconds < ACTIVATION_MIN_TTL_S || seconds > ACTIVATION_MAX_TTL_S) {
    throw new CliError(
      'usage_error',
      `--expires must be between ${formatDuration(ACTIVATION_MIN_TTL_S)} and ${formatDuration(ACTIVATION_MAX_TTL_S)} (got ${expires})`,
    );
  }
  return seconds;
}

/** `enclave activation create|list|revoke`. */
export function registerActivationCommands(program: Command, env: CommandEnv): void {
  const { ctx } = env;
  const activation = program.command('activation').description('one-time activation passwords for devices');

  withCommonOptions(
    activation
      .command('create')
      .description('create a one-time activation password (shown once)')
      .requiredOption('--email <email>', 'the user who will activate a device')
      .option('--expires <duration>', 'lifetime, e.g. 90s, 10m, 24h, 7d (default 48h)'),
    { config: true },
  ).action(
    action(env, CreateFlags, (o) => {
      const expiresInSeconds = activationTtl(o.expires);
      return withAdmin(ctx, o.config, async ({ client }) => {
        const created = await client.createActivation({
          email: o.email,
          ...(expiresInSeconds !== undefined ? { expiresInSeconds } : {}),
        });
        const qr = await QRCode.toString(created.qr, { type: 'terminal', small: true });
        return {
          data: created,
          text: [
            `Activation password for ${created.userEmail}: ${created.password}`,
            `Expires: ${created.expiresAt} (single use; locked after 5 wrong tries)`,
            '',
            qr,
            'Give the password or the QR code to the user now — it is not shown again.',
          ].join('\n'),
        };
      });
    }),
  );

  withCommonOptions(
    activation
      .command('list')
      .description("list a user's activation passwords")
      .requiredOption('--email <email>', 'the user'),
    { config: true },
  ).action(
    action(env, ListFlags, (o) =>
      withAdmin(ctx, o.config, async ({ client }) => {
        const list = await client.listActivations(o.email);
        return {
          data: list,
          text: list.items.length
            ? table(
                ['ID', 'STATUS', 'FAILED', 'EXPIRES', 'USED'],
                list.items.map((a) => [
                  a.id,
                  a.status,
                  String(a.failedAttempts),
                  a.expiresAt,
                  a.usedAt ?? '-',
                ]),
              )
            : `No activation passwords for ${o.email}.`,
        };
      }),
    ),
  );

  withCommonOptions(
    activation
      .command('revoke')
      .description('revoke an activation password')
      .argument('<id>', 'activation id'),
    { config: true },
  ).action(
    action(env, RevokeFlags, (o, [ref]) => {
      const id = parseId(ref);
      return withAdmin(ctx, o.config, async ({ client }) => {
        await client.deleteActivation(id);
        return { data: { id, revoked: true }, text: `Revoked activation ${id}.` };
      });
    }),
  );
}
