import type { Command } from 'commander';
import { z } from 'zod';
import type { AdminClient, EffectivePolicyRecord, PolicyRecord } from '@enclave/client';
import { IdSchema } from '@enclave/protocol';
import { action, withCommonOptions, type CommandEnv } from '../lib/action.js';
import { withAdmin } from '../lib/admin-session.js';
import { CliError } from '../lib/cli-error.js';
import { ConfigFlags, collect, parseId, readTextFile } from '../lib/flags.js';
import { fields, table } from '../lib/output.js';
import { settingsFromJson, settingsPatch } from '../lib/policy-settings.js';

const RankFlag = z.coerce.number().int().min(0).max(1_000_000);
const SettingsFlags = {
  file: z.string().min(1).optional(),
  set: z.array(z.string()).optional(),
};
const CreateFlags = z.object({
  ...ConfigFlags,
  ...SettingsFlags,
  name: z.string().min(1),
  description: z.string().optional(),
});
const UpdateFlags = z.object({
  ...ConfigFlags,
  ...SettingsFlags,
  name: z.string().min(1).optional(),
  description: z.string().optional(),
});
const PlainFlags = z.object({ ...ConfigFlags });
const AssignFlags = z.object({
  ...ConfigFlags,
  user: z.string().min(1).optional(),
  group: z.string().min(1).optional(),
  rank: RankFlag.optional(),
});
const EffectiveFlags = z.object({
  ...ConfigFlags,
  user: z.string().min(1).optional(),
  device: z.string().min(1).optional(),
});

/** A policy given by id or by name. */
async function findPolicy(client: AdminClient, ref: unknown): Promise<PolicyRecord> {
  const key = typeof ref === 'string' ? ref.trim() : '';
  if (IdSchema.safeParse(key).success) return client.getPolicy(key);
  const { items } = await client.listPolicies();
  const p =
    items.find((x) => x.name === key) ?? items.find((x) => x.name.toLowerCase() === key.toLowerCase());
  if (!p) throw new CliError('not_found', `no policy named "${key}" — see \`enclave policies list\``);
  return p;
}

async function userIdByEmail(client: AdminClient, email: string): Promise<string> {
  const page = await client.listUsers({ q: email, limit: 500 });
  const user = page.items.find((u) => u.email.toLowerCase() === email.toLowerCase());
  if (!user) throw new CliError('user_not_found', `no user with email ${email} — see \`enclave users list\``);
  return user.id;
}

async function groupIdByName(client: AdminClient, name: string): Promise<string> {
  const page = await client.listGroups({ q: name, limit: 500 });
  const group =
    page.items.find((g) => g.name === name) ??
    page.items.find((g) => g.name.toLowerCase() === name.toLowerCase());
  if (!group) throw new CliError('group_not_found', `no group named "${name}" — see \`enclave groups list\``);
  return group.id;
}

async function readSettings(o: { file?: string | undefined; set?: string[] | undefined }) {
  const base = o.file ? settingsFromJson(await readTextFile(o.file, '--file'), o.file) : {};
  return settingsPatch(base, o.set ?? []);
}

function policyText(p: PolicyRecord): string {
  const assigned = [
    ...p.assignments.users.map((a) => `user ${a.email}`),
    ...p.assignments.groups.map((a) => `group ${a.name} (rank ${a.rank})`),
  ];
  const settings = Object.entries(p.document).map(
    ([k, v]) => [`  ${k}`, typeof v === 'object' && v !== null ? JSON.stringify(v) : v] as const,
  );
  return fields([
    ['id', p.id],
    ['name', p.isDefault ? `${p.name} (default)` : p.name],
    ['description', p.description || '-'],
    ['version', p.version],
    [
      'assigned to',
      assigned.length ? assigned.join(', ') : p.isDefault ? 'everyone without another policy' : '-',
    ],
    ['updated', p.updatedAt],
    ['settings', ''],
    ...settings,
  ]);
}

/** The human answer to "which policy applies, and why". */
export function effectiveText(e: EffectivePolicyRecord, subject: string): string {
  const source =
    e.source.kind === 'user'
      ? 'direct user assignment'
      : e.source.kind === 'group'
        ? `group ${e.source.groupName ?? '?'} (rank ${e.source.rank ?? '?'})`
        : 'default policy';
  return [
    `Policy "${e.policy.name}" (version ${e.policy.version}, id ${e.policy.id}) applies to ${subject}.`,
    `Source: ${source}.`,
    `Why: ${e.explanation}.`,
  ].join('\n');
}

/** `enclave policies list|show|create|update|delete|assign|unassign|effective|affected`. */
export function registerPoliciesCommands(program: Command, env: CommandEnv): void {
  const { ctx } = env;
  const policies = program
    .command('policies')
    .description('IT policies: settings devices enforce, and who gets which');

  withCommonOptions(policies.command('list').description('list policies and where they are assigned'), {
    config: true,
  }).action(
    action(env, PlainFlags, (o) =>
      withAdmin(ctx, o.config, async ({ client }) => {
        const list = await client.listPolicies();
        return {
          data: list,
          text: table(
            ['ID', 'NAME', 'VERSION', 'ASSIGNED TO'],
            list.items.map((p) => [
              p.id,
              p.isDefault ? `${p.name} (default)` : p.name,
              String(p.version),
              [
                ...p.assignments.users.map((a) => a.email),
                ...p.assignments.groups.map((a) => `${a.name}@${a.rank}`),
              ].join(',') || '-',
            ]),
          ),
        };
      }),
    ),
  );

  withCommonOptions(
    policies
      .command('show')
      .description('show a policy and its settings')
      .argument('<policy>', 'policy id or name'),
    {
      config: true,
    },
  ).action(
    action(env, PlainFlags, (o, [ref]) =>
      withAdmin(ctx, o.config, async ({ client }) => {
        const p = await findPolicy(client, ref);
        return { data: p, text: policyText(p) };
      }),
    ),
  );

  const settingsOptions = (cmd: Command) =>
    cmd
      .option('--file <policy.json>', 'JSON settings (a bare object or { "document": { … } })')
      .option(
        '--set <key=value>',
        'one setting, e.g. minPasscodeLength=8 or minOsVersion.ios=17.0 (repeatable)',
        collect,
      );

  withCommonOptions(
    settingsOptions(
      policies
        .command('create')
        .description('create a policy; settings not given take their defaults')
        .requiredOption('--name <name>', 'policy name')
        .option('--description <text>', 'what the policy is for'),
    ),
    { config: true },
  ).action(
    action(env, CreateFlags, async (o) => {
      const document = await readSettings(o);
      return withAdmin(ctx, o.config, async ({ client }) => {
        const p = await client.createPolicy({
          name: o.name,
          ...(o.description !== undefined ? { description: o.description } : {}),
          document,
        });
        return { data: p, text: `Created policy ${p.name}, id ${p.id} (version ${p.version}).` };
      });
    }),
  );

  withCommonOptions(
    settingsOptions(
      policies
        .command('update')
        .description('rename a policy or change settings (merged over the current ones); bumps its version')
        .argument('<policy>', 'policy id or name')
        .option('--name <name>', 'new name')
        .option('--description <text>', 'new description'),
    ),
    { config: true },
  ).action(
    action(env, UpdateFlags, async (o, [ref]) => {
      const document = await readSettings(o);
      const patch = {
        ...(o.name !== undefined ? { name: o.name } : {}),
        ...(o.description !== undefined ? { description: o.description } : {}),
        ...(Object.keys(document).length ? { document } : {}),
      };
      if (Object.keys(patch).length === 0)
        throw new CliError('usage_error', 'nothing to update — pass --name, --description, --file or --set');
      return withAdmin(ctx, o.config, async ({ client }) => {
        const p = await client.updatePolicy((await findPolicy(client, ref)).id, patch);
        return { data: p, text: `Updated policy ${p.name}: now version ${p.version}.` };
      });
    }),
  );

  withCommonOptions(
    policies
      .command('delete')
      .description('delete a policy (not the default)')
      .argument('<policy>', 'policy id or name'),
    {
      config: true,
    },
  ).action(
    action(env, PlainFlags, (o, [ref]) =>
      withAdmin(ctx, o.config, async ({ client }) => {
        const p = await findPolicy(client, ref);
        await client.deletePolicy(p.id);
        return { data: { id: p.id, name: p.name, deleted: true }, text: `Deleted policy ${p.name}.` };
      }),
    ),
  );

  const target = async (
    client: AdminClient,
    o: z.output<typeof AssignFlags>,
  ): Promise<{ userId: string; label: string } | { groupId: string; label: string }> => {
    if (o.user && o.group) throw new CliError('usage_error', 'give --user or --group, not both');
    if (o.user) {
      if (o.rank !== undefined) throw new CliError('usage_error', '--rank applies to --group only');
      return { userId: await userIdByEmail(client, o.user), label: `user ${o.user}` };
    }
    if (o.group) return { groupId: await groupIdByName(client, o.group), label: `group ${o.group}` };
    throw new CliError('usage_error', 'give --user EMAIL or --group NAME');
  };

  withCommonOptions(
    policies
      .command('assign')
      .description('assign a policy to a user (replacing theirs) or to a group with a rank (higher wins)')
      .argument('<policy>', 'policy id or name')
      .option('--user <email>', 'assign directly to this user')
      .option('--group <name>', 'assign to this group')
      .option('--rank <n>', 'the group assignment rank (required with --group)'),
    { config: true },
  ).action(
    action(env, AssignFlags, async (o, [ref]) => {
      if (o.group && o.rank === undefined) throw new CliError('usage_error', '--group needs --rank N');
      return withAdmin(ctx, o.config, async ({ client }) => {
        const policy = await findPolicy(client, ref);
        const t = await target(client, o);
        const p = await client.assignPolicy(
          policy.id,
          'userId' in t ? { userId: t.userId } : { groupId: t.groupId, rank: o.rank ?? 0 },
        );
        const rank = 'groupId' in t ? ` at rank ${o.rank ?? 0}` : '';
        return { data: p, text: `Assigned policy ${p.name} to ${t.label}${rank}.` };
      });
    }),
  );

  withCommonOptions(
    policies
      .command('unassign')
      .description("remove a policy's assignment to a user or group")
      .argument('<policy>', 'policy id or name')
      .option('--user <email>', 'the user')
      .option('--group <name>', 'the group'),
    { config: true },
  ).action(
    action(env, AssignFlags, (o, [ref]) =>
      withAdmin(ctx, o.config, async ({ client }) => {
        const policy = await findPolicy(client, ref);
        const t = await target(client, o);
        const p = await client.unassignPolicy(
          policy.id,
          'userId' in t ? { userId: t.userId } : { groupId: t.groupId },
        );
        return { data: p, text: `Removed policy ${p.name} from ${t.label}.` };
      }),
    ),
  );

  withCommonOptions(
    policies
      .command('effective')
      .description('which policy applies to a device or user, and why')
      .option('--device <id>', 'device id')
      .option('--user <email>', 'user email'),
    { config: true },
  ).action(
    action(env, EffectiveFlags, (o) => {
      if (!o.device === !o.user)
        throw new CliError('usage_error', 'give exactly one of --device ID or --user EMAIL');
      const deviceId = o.device ? parseId(o.device, '--device') : undefined;
      return withAdmin(ctx, o.config, async ({ client }) => {
        const e = deviceId
          ? await client.effectivePolicy({ deviceId })
          : await client.effectivePolicy({ userId: await userIdByEmail(client, o.user ?? '') });
        return {
          data: { policy: e.policy, source: e.source, explanation: e.explanation },
          text: effectiveText(e, deviceId ? `device ${deviceId}` : `user ${o.user ?? ''}`),
        };
      });
    }),
  );

  withCommonOptions(
    policies
      .command('affected')
      .description('users whose effective policy is this one')
      .argument('<policy>', 'policy id or name'),
    { config: true },
  ).action(
    action(env, PlainFlags, (o, [ref]) =>
      withAdmin(ctx, o.config, async ({ client }) => {
        const policy = await findPolicy(client, ref);
        const list = await client.policyAffected(policy.id);
        return {
          data: list,
          text: `${table(
            ['EMAIL', 'NAME', 'SOURCE'],
            list.items.map((i) => [
              i.email,
              i.name,
              i.source.kind === 'group'
                ? `group ${i.source.groupName ?? ''} (rank ${i.source.rank ?? ''})`
                : i.source.kind,
            ]),
          )}\n${list.total} user(s) get policy ${policy.name}.`,
        };
      }),
    ),
  );
}
