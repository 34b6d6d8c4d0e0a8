import type { Command } from 'commander';
import { z } from 'zod';
import { AdminClient, ApiError } from '@enclave/client';
import { action, withCommonOptions, type CommandEnv } from '../lib/action.js';
import { withAdmin } from '../lib/admin-session.js';
import { CliError } from '../lib/cli-error.js';
import { fields } from '../lib/output.js';
import { ConfigFlags, FingerprintFlag, ServerUrlFlag, readSecretFile } from '../lib/flags.js';
import { firstUseWarning, trustServer } from '../lib/server-trust.js';
import { deleteSession, readSession, resolveConfigDir, saveSession } from '../lib/session-store.js';

const LoginFlags = z.object({
  ...ConfigFlags,
  server: ServerUrlFlag,
  email: z.string().min(1),
  passwordFile: z.string().min(1),
  totp: z
    .string()
    .regex(/^\d{6}$/, 'a TOTP code is six digits')
    .optional(),
  caFingerprint: FingerprintFlag.optional(),
});

const SetupFlags = z.object({
  ...ConfigFlags,
  server: ServerUrlFlag,
  code: z.string().min(1),
  email: z.string().min(1),
  passwordFile: z.string().min(1),
  caFingerprint: FingerprintFlag.optional(),
});

const SessionFlags = z.object({ ...ConfigFlags });

/** `enclave login`, `setup`, `logout`, `whoami`. */
export function registerAuthCommands(program: Command, env: CommandEnv): void {
  const { ctx } = env;

  withCommonOptions(
    program
      .command('login')
      .description('sign in as an administrator and save the session')
      .requiredOption('--server <url>', 'server URL, e.g. https://enclave.example.com:8443')
      .requiredOption('--email <email>', 'administrator email')
      .requiredOption('--password-file <file>', 'file whose first line is the password')
      .option('--totp <code>', 'current six-digit TOTP code (once TOTP is enrolled)')
      .option(
        '--ca-fingerprint <fp>',
        'expected enterprise CA fingerprint (SHA-256 hex, as printed by `enclave init`)',
      ),
    { config: true },
  ).action(
    action(env, LoginFlags, async (o) => {
      const configDir = resolveConfigDir(ctx, o.config);
      const previous = await readSession(configDir).catch(() => undefined);
      const known = previous?.server === o.server ? previous.caFingerprint : undefined;
      const password = await readSecretFile(o.passwordFile, '--password-file');
      const trusted = await trustServer(ctx, {
        server: o.server,
        expectedFingerprint: o.caFingerprint,
        knownFingerprint: known,
      });
      const client = new AdminClient(trusted.transport);
      let result;
      try {
        result = await client.login({ email: o.email, password, ...(o.totp ? { totp: o.totp } : {}) });
      } catch (err) {
        if (err instanceof ApiError && err.code === 'totp_required')
          throw new CliError(
            err.code,
            `${err.message} — pass --totp CODE with the code from your authenticator`,
          );
        throw err;
      }
      await saveSession(configDir, {
        server: trusted.server,
        token: result.token,
        caPem: trusted.caPem,
        caFingerprint: trusted.caFingerprint,
        email: result.admin.email,
        role: result.admin.role,
        expiresAt: result.expiresAt,
      });
      const data = {
        email: result.admin.email,
        role: result.admin.role,
        server: trusted.server,
        caFingerprint: trusted.caFingerprint,
        expiresAt: result.expiresAt,
      };
      return {
        data,
        text: `Logged in to ${data.server} as ${data.email} (${data.role}); the session expires at ${data.expiresAt}.`,
        warnings: trusted.trustedOnFirstUse ? [firstUseWarning(trusted)] : [],
      };
    }),
  );

  withCommonOptions(
    program
      .command('setup')
      .description(
        'create the first Security Administrator with the one-time setup code the server printed at first start',
      )
      .requiredOption('--server <url>', 'server URL')
      .requiredOption('--code <code>', 'one-time setup code')
      .requiredOption('--email <email>', 'email of the first Security Administrator')
      .requiredOption(
        '--password-file <file>',
        'file whose first line is the new password (at least 12 characters)',
      )
      .option('--ca-fingerprint <fp>', 'expected enterprise CA fingerprint'),
    { config: true },
  ).action(
    action(env, SetupFlags, async (o) => {
      const password = await readSecretFile(o.passwordFile, '--password-file');
      const trusted = await trustServer(ctx, { server: o.server, expectedFingerprint: o.caFingerprint });
      const admin = await new AdminClient(trusted.transport).setup({
        code: o.code,
        email: o.email,
        password,
      });
      const data = {
        id: admin.id,
        email: admin.email,
        role: admin.role,
        server: trusted.server,
        caFingerprint: trusted.caFingerprint,
      };
      return {
        data,
        text: `Created ${admin.email} (${admin.role}). Next: enclave login --server ${trusted.server} --email ${admin.email} --password-file F --ca-fingerprint ${trusted.caFingerprint}`,
        warnings: trusted.trustedOnFirstUse ? [firstUseWarning(trusted)] : [],
      };
    }),
  );

  withCommonOptions(program.command('logout').description('end the saved admin session'), {
    config: true,
  }).action(
    action(env, SessionFlags, async (o) => {
      const configDir = resolveConfigDir(ctx, o.config);
      const session = await readSession(configDir);
      const warnings: string[] = [];
      if (session) {
        try {
          await withAdmin(ctx, o.config, (a) => a.client.logout());
        } catch (err) {
          // The local session is removed either way; the server-side one expires on its own.
          warnings.push(
            `the server did not confirm the logout (${err instanceof Error ? err.message : String(err)})`,
          );
        }
      }
      await deleteSession(configDir);
      return {
        data: {
          ok: true,
          wasLoggedIn: Boolean(session),
          ...(session ? { email: session.email, server: session.server } : {}),
        },
        text: session ? `Logged out ${session.email} from ${session.server}.` : 'Not logged in.',
        warnings,
      };
    }),
  );

  withCommonOptions(program.command('whoami').description('show the administrator of the saved session'), {
    config: true,
  }).action(
    action(env, SessionFlags, (o) =>
      withAdmin(ctx, o.config, async ({ client, session }) => {
        const me = await client.me();
        const data = {
          ...me,
          server: session.server,
          caFingerprint: session.caFingerprint,
          expiresAt: session.expiresAt,
        };
        return {
          data,
          text: fields([
            ['email', me.email],
            ['role', me.role],
            ['id', me.id],
            ['totp', me.totpEnabled ? 'enabled' : 'not enrolled'],
            ['server', session.server],
            ['CA fingerprint', session.caFingerprint],
            ['session expires', session.expiresAt],
          ]),
        };
      }),
    ),
  );
}
