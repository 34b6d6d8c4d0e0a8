import type { Command } from 'commander';
import { z } from 'zod';
import type { AdminClient, GroupRecord } from '@enclave/client';
import { IdSchema } from '@enclave/protocol';
import { action, withCommonOptions, type CommandEnv } from '../lib/action.js';
import { withAdmin } from '../lib/admin-session.js';
import { CliError } from '../lib/cli-error.js';
import { ConfigFlags, LimitFlag, OffsetFlag } from '../lib/flags.js';
import { fields, pageFooter, table } from '../lib/output.js';

const AddFlags = z.object({ ...ConfigFlags, name: z.string().min(1), description: z.string().optional() });
const ListFlags = z.object({
  ...ConfigFlags,
  search: z.string().optional(),
  limit: LimitFlag.optional(),
  offset: OffsetFlag.optional(),
});
const IdFlags = z.object({ ...ConfigFlags });
const UpdateFlags = z.object({
  ...ConfigFlags,
  name: z.string().min(1).optional(),
  description: z.string().optional(),
});

/** Resolves a group given by id or exact name. */
async function findGroup(client: AdminClient, ref: unknown): Promise<GroupRecord> {
  const key = typeof ref === 'string' ? ref.trim() : '';
  if (!key) throw new CliError('usage_error', 'ID must be a group id or name');
  if (IdSchema.safeParse(key).success) return client.getGroup(key);
  const page = await client.listGroups({ q: key, limit: 500 });
  const group =
    page.items.find((g) => g.name === key) ??
    page.items.find((g) => g.name.toLowerCase() === key.toLowerCase());
  if (!group) throw new CliError('not_found', `no group named "${key}" — see \`enclave groups list\``);
  return group;
}

function groupText(g: GroupRecord): string {
  return fields([
    ['id', g.id],
    ['name', g.name],
    ['description', g.description || '-'],
    ['members', g.memberCount],
    ['created', g.createdAt],
  ]);
}

/** `enclave groups add|list|show|update|remove`. */
export function registerGroupsCommands(program: Command, env: CommandEnv): void {
  const { ctx } = env;
  const groups = program.command('groups').description('groups of users (for policies and bulk actions)');

  withCommonOptions(
    groups
      .command('add')
      .description('create a group')
      .requiredOption('--name <name>', 'group name')
      .option('--description <text>', 'what the group is for'),
    { config: true },
  ).action(
    action(env, AddFlags, (o) =>
      withAdmin(ctx, o.config, async ({ client }) => {
        const group = await client.createGroup({
          name: o.name,
          ...(o.description !== undefined ? { description: o.description } : {}),
        });
        return { data: group, text: `Created group ${group.name}, id ${group.id}.` };
      }),
    ),
  );

  withCommonOptions(
    groups
      .command('list')
      .description('list groups')
      .option('--search <q>', 'match the name')
      .option('--limit <n>', 'page size (1–500)')
      .option('--offset <n>', 'skip this many'),
    { config: true },
  ).action(
    action(env, ListFlags, (o) =>
      withAdmin(ctx, o.config, async ({ client }) => {
        const page = await client.listGroups({ q: o.search, limit: o.limit, offset: o.offset });
        return {
          data: page,
          text: `${table(
            ['ID', 'NAME', 'MEMBERS', 'DESCRIPTION'],
            page.items.map((g) => [g.id, g.name, String(g.memberCount), g.description]),
          )}\n${pageFooter(page.items.length, page.total, page.offset)}`,
        };
      }),
    ),
  );

  withCommonOptions(groups.command('show').description('show a group').argument('<id>', 'group id or name'), {
    config: true,
  }).action(
    action(env, IdFlags, (o, [ref]) =>
      withAdmin(ctx, o.config, async ({ client }) => {
        const group = await findGroup(client, ref);
        return { data: group, text: groupText(group) };
      }),
    ),
  );

  withCommonOptions(
    groups
      .command('update')
      .description('rename or describe a group')
      .argument('<id>', 'group id or name')
      .option('--name <name>', 'new name')
      .option('--description <text>', 'new description'),
    { config: true },
  ).action(
    action(env, UpdateFlags, (o, [ref]) => {
      if (o.name === undefined && o.description === undefined)
        throw new CliError('usage_error', 'nothing to update — pass --name or --description');
      return withAdmin(ctx, o.config, async ({ client }) => {
        const { id } = await findGroup(client, ref);
        const group = await client.updateGroup(id, {
          ...(o.name !== undefined ? { name: o.name } : {}),
          ...(o.description !== undefined ? { description: o.description } : {}),
        });
        return { data: group, text: groupText(group) };
      });
    }),
  );

  withCommonOptions(
    groups.command('remove').description('delete a group').argument('<id>', 'group id or name'),
    { config: true },
  ).action(
    action(env, IdFlags, (o, [ref]) =>
      withAdmin(ctx, o.config, async ({ client }) => {
        const group = await findGroup(client, ref);
        await client.deleteGroup(group.id);
        return {
          data: { id: group.id, name: group.name, removed: true },
          text: `Removed group ${group.name}.`,
        };
      }),
    ),
  );
}
