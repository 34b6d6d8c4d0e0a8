import type { Command } from 'commander';
import QRCode from 'qrcode';
import { z } from 'zod';
import { action, withCommonOptions, type CommandEnv } from '../lib/action.js';
import { withAdmin } from '../lib/admin-session.js';
import { ConfigFlags } from '../lib/flags.js';

const EnrollFlags = z.object({ ...ConfigFlags });
const ConfirmFlags = z.object({
  ...ConfigFlags,
  code: z.string().regex(/^\d{6}$/, 'a TOTP code is six digits'),
});

/** `enclave account totp enroll|confirm`. */
export function registerAccountCommands(program: Command, env: CommandEnv): void {
  const { ctx } = env;
  const totp = program
    .command('account')
    .description('your own administrator account')
    .command('totp')
    .description('two-factor sign-in (TOTP, RFC 6238)');

  withCommonOptions(
    totp
      .command('enroll')
      .description('create a TOTP secret; confirm it with `enclave account totp confirm --code C`'),
    { config: true },
  ).action(
    action(env, EnrollFlags, (o) =>
      withAdmin(ctx, o.config, async ({ client }) => {
        const enrollment = await client.totpEnroll();
        const qr = ctx.isTty
          ? await QRCode.toString(enrollment.otpauthUrl, { type: 'terminal', small: true })
          : '';
        return {
          data: enrollment,
          text: [
            `Secret:      ${enrollment.secret}`,
            `otpauth URL: ${enrollment.otpauthUrl}`,
            qr,
            'Add it to your authenticator app, then run `enclave account totp confirm --code <6 digits>`.',
          ].join('\n'),
        };
      }),
    ),
  );

  withCommonOptions(
    totp
      .command('confirm')
      .description('activate TOTP with a current code')
      .requiredOption('--code <code>', 'six-digit code from your authenticator'),
    { config: true },
  ).action(
    action(env, ConfirmFlags, (o) =>
      withAdmin(ctx, o.config, async ({ client }) => {
        const admin = await client.totpConfirm({ code: o.code });
        return { data: admin, text: `TOTP is now required to sign in as ${admin.email}.` };
      }),
    ),
  );
}
