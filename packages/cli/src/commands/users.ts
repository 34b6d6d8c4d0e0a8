import type { Command } from 'commander';
import { z } from 'zod';
import type { AdminClient, UserRecord } from '@enclave/client';
import { IdSchema } from '@enclave/protocol';
import { action, withCommonOptions, type CommandEnv } from '../lib/action.js';
import { withAdmin } from '../lib/admin-session.js';
import { CliError } from '../lib/cli-error.js';
import { ConfigFlags, LimitFlag, OffsetFlag, collect, readTextFile } from '../lib/flags.js';
import { fields, pageFooter, table } from '../lib/output.js';

const AddFlags = z.object({
  ...ConfigFlags,
  email: z.string().min(1),
  name: z.string().min(1),
  group: z.array(z.string().min(1)).optional(),
});
const ListFlags = z.object({
  ...ConfigFlags,
  search: z.string().optional(),
  group: z.string().optional(),
  limit: LimitFlag.optional(),
  offset: OffsetFlag.optional(),
});
const ShowFlags = z.object({ ...ConfigFlags });
const UpdateFlags = z.object({
  ...ConfigFlags,
  email: z.string().min(1).optional(),
  name: z.string().min(1).optional(),
  group: z.array(z.string().min(1)).optional(),
  clearGroups: z.boolean().optional(),
});
const ImportFlags = z.object({ ...ConfigFlags, file: z.string().min(1) });

/** Resolves a user given by id or email to its id. */
async function resolveUserId(client: AdminClient, ref: unknown): Promise<string> {
  const key = typeof ref === 'string' ? ref.trim() : '';
  if (IdSchema.safeParse(key).success) return key;
  if (!key.includes('@'))
    throw new CliError('usage_error', `ID must be a user id (UUID) or email (got "${key}")`);
  const page = await client.listUsers({ q: key, limit: 500 });
  const user = page.items.find((u) => u.email.toLowerCase() === key.toLowerCase());
  if (!user) throw new CliError('not_found', `no user with email ${key} — see \`enclave users list\``);
  return user.id;
}

function userText(u: UserRecord): string {
  return fields([
    ['id', u.id],
    ['email', u.email],
    ['name', u.name],
    ['groups', u.groups.length ? u.groups.join(', ') : '-'],
    ['devices', u.deviceCount],
    ['created', u.createdAt],
    ['updated', u.updatedAt],
  ]);
}

/** `enclave users add|list|show|update|remove|import`. */
export function registerUsersCommands(program: Command, env: CommandEnv): void {
  const { ctx } = env;
  const users = program.command('users').description('the people whose devices the enterprise manages');

  withCommonOptions(
    users
      .command('add')
      .description('create a user')
      .requiredOption('--email <email>', 'email address')
      .requiredOption('--name <name>', 'display name')
      .option('--group <name>', 'group to add the user to (repeatable)', collect),
    { config: true },
  ).action(
    action(env, AddFlags, (o) =>
      withAdmin(ctx, o.config, async ({ client }) => {
        const user = await client.createUser({
          email: o.email,
          name: o.name,
          ...(o.group ? { groups: o.group } : {}),
        });
        return { data: user, text: `Created user ${user.email}, id ${user.id}.` };
      }),
    ),
  );

  withCommonOptions(
    users
      .command('list')
      .description('list users')
      .option('--search <q>', 'match email or name')
      .option('--group <name>', 'only members of this group')
      .option('--limit <n>', 'page size (1–500)')
      .option('--offset <n>', 'skip this many'),
    { config: true },
  ).action(
    action(env, ListFlags, (o) =>
      withAdmin(ctx, o.config, async ({ client }) => {
        const page = await client.listUsers({
          q: o.search,
          group: o.group,
          limit: o.limit,
          offset: o.offset,
        });
        return {
          data: page,
          text: `${table(
            ['ID', 'EMAIL', 'NAME', 'GROUPS', 'DEVICES'],
            page.items.map((u) => [u.id, u.email, u.name, u.groups.join(','), String(u.deviceCount)]),
          )}\n${pageFooter(page.items.length, page.total, page.offset)}`,
        };
      }),
    ),
  );

  withCommonOptions(users.command('show').description('show a user').argument('<id>', 'user id or email'), {
    config: true,
  }).action(
    action(env, ShowFlags, (o, [ref]) =>
      withAdmin(ctx, o.config, async ({ client }) => {
        const user = await client.getUser(await resolveUserId(client, ref));
        return { data: user, text: userText(user) };
      }),
    ),
  );

  withCommonOptions(
    users
      .command('update')
      .description('change a user')
      .argument('<id>', 'user id or email')
      .option('--email <email>', 'new email')
      .option('--name <name>', 'new display name')
      .option('--group <name>', 'replace the groups with these (repeatable)', collect)
      .option('--clear-groups', 'remove the user from every group'),
    { config: true },
  ).action(
    action(env, UpdateFlags, (o, [ref]) => {
      if (o.group && o.clearGroups)
        throw new CliError('usage_error', '--group and --clear-groups cannot be combined');
      const patch = {
        ...(o.email ? { email: o.email } : {}),
        ...(o.name ? { name: o.name } : {}),
        ...(o.group ? { groups: o.group } : o.clearGroups ? { groups: [] } : {}),
      };
      if (Object.keys(patch).length === 0)
        throw new CliError(
          'usage_error',
          'nothing to update — pass --email, --name, --group or --clear-groups',
        );
      return withAdmin(ctx, o.config, async ({ client }) => {
        const user = await client.updateUser(await resolveUserId(client, ref), patch);
        return { data: user, text: userText(user) };
      });
    }),
  );

  withCommonOptions(
    users.command('remove').description('delete a user').argument('<id>', 'user id or email'),
    { config: true },
  ).action(
    action(env, ShowFlags, (o, [ref]) =>
      withAdmin(ctx, o.config, async ({ client }) => {
        const user = await client.getUser(await resolveUserId(client, ref));
        await client.deleteUser(user.id);
        return {
          data: { id: user.id, email: user.email, removed: true },
          text: `Removed user ${user.email}.`,
        };
      }),
    ),
  );

  withCommonOptions(
    users
      .command('import')
      .description('create users from a CSV file with the header email,name,groups (groups ;-separated)')
      .requiredOption('--file <file>', 'CSV file'),
    { config: true },
  ).action(
    action(env, ImportFlags, async (o) => {
      const csv = await readTextFile(o.file, '--file');
      return withAdmin(ctx, o.config, async ({ client }) => {
        const report = await client.importUsersCsv(csv);
        const lines = [`Imported ${report.imported} user(s); ${report.failed} row(s) failed.`];
        for (const e of report.errors)
          lines.push(`  row ${e.row}${e.email ? ` (${e.email})` : ''}: ${e.message} (${e.code})`);
        return {
          data: report,
          text: lines.join('\n'),
          warnings:
            report.failed > 0
              ? [`${report.failed} row(s) of ${o.file} were not imported — see the report`]
              : [],
        };
      });
    }),
  );
}
