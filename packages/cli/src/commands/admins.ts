import type { Command } from 'commander';
import { z } from 'zod';
import type { AdminClient } from '@enclave/client';
import { IdSchema } from '@enclave/protocol';
import { action, withCommonOptions, type CommandEnv } from '../lib/action.js';
import { withAdmin } from '../lib/admin-session.js';
import { CliError } from '../lib/cli-error.js';
import { ConfigFlags, RoleFlag, readSecretFile } from '../lib/flags.js';
import { table } from '../lib/output.js';

const ListFlags = z.object({ ...ConfigFlags });
const AddFlags = z.object({
  ...ConfigFlags,
  email: z.string().min(1),
  role: RoleFlag,
  passwordFile: z.string().min(1),
});
const SetRoleFlags = z.object({ ...ConfigFlags, role: RoleFlag });
const RemoveFlags = z.object({ ...ConfigFlags });

/** Finds an administrator by id or email. */
async function findAdmin(client: AdminClient, ref: unknown) {
  const key = typeof ref === 'string' ? ref.trim() : '';
  if (!IdSchema.safeParse(key).success && !key.includes('@'))
    throw new CliError('usage_error', `ID must be an administrator id (UUID) or email (got "${key}")`);
  const { items } = await client.listAdmins();
  const admin = items.find((a) => a.id === key || a.email.toLowerCase() === key.toLowerCase());
  if (!admin) throw new CliError('not_found', `no administrator ${key} — see \`enclave admins list\``);
  return admin;
}

/** `enclave admins add|list|set-role|remove`. */
export function registerAdminsCommands(program: Command, env: CommandEnv): void {
  const { ctx } = env;
  const admins = program.command('admins').description('administrators and their roles');

  withCommonOptions(admins.command('list').description('list administrators'), { config: true }).action(
    action(env, ListFlags, (o) =>
      withAdmin(ctx, o.config, async ({ client }) => {
        const list = await client.listAdmins();
        return {
          data: list,
          text: table(
            ['ID', 'EMAIL', 'ROLE', 'TOTP'],
            list.items.map((a) => [a.id, a.email, a.role, a.totpEnabled ? 'yes' : 'no']),
          ),
        };
      }),
    ),
  );

  withCommonOptions(
    admins
      .command('add')
      .description('create an administrator')
      .requiredOption('--email <email>', 'email (the sign-in name)')
      .requiredOption(
        '--role <role>',
        'security-admin, enterprise-admin, senior-helpdesk, junior-helpdesk or auditor',
      )
      .requiredOption(
        '--password-file <file>',
        'file whose first line is the initial password (at least 12 characters)',
      ),
    { config: true },
  ).action(
    action(env, AddFlags, async (o) => {
      const password = await readSecretFile(o.passwordFile, '--password-file');
      return withAdmin(ctx, o.config, async ({ client }) => {
        const admin = await client.createAdmin({ email: o.email, role: o.role, password });
        return { data: admin, text: `Created administrator ${admin.email} (${admin.role}), id ${admin.id}.` };
      });
    }),
  );

  withCommonOptions(
    admins
      .command('set-role')
      .description("change an administrator's role")
      .argument('<id>', 'administrator id or email')
      .requiredOption('--role <role>', 'the new role'),
    { config: true },
  ).action(
    action(env, SetRoleFlags, (o, [ref]) =>
      withAdmin(ctx, o.config, async ({ client }) => {
        const { id } = await findAdmin(client, ref);
        const admin = await client.updateAdmin(id, { role: o.role });
        return { data: admin, text: `${admin.email} is now ${admin.role}.` };
      }),
    ),
  );

  withCommonOptions(
    admins
      .command('remove')
      .description('delete an administrator')
      .argument('<id>', 'administrator id or email'),
    { config: true },
  ).action(
    action(env, RemoveFlags, (o, [ref]) =>
      withAdmin(ctx, o.config, async ({ client }) => {
        const admin = await findAdmin(client, ref);
        await client.deleteAdmin(admin.id);
        return {
          data: { id: admin.id, email: admin.email, role: admin.role, removed: true },
          text: `Removed administrator ${admin.email} (${admin.role}).`,
        };
      }),
    ),
  );
}
