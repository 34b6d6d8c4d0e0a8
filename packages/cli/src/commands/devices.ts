import type { Command } from 'commander';
import { z } from 'zod';
import { DeviceCommandTypeSchema, DeviceStatusSchema } from '@enclave/protocol';
import { action, withCommonOptions, type CommandEnv } from '../lib/action.js';
import type { ApprovalRecord } from '@enclave/client';
import { withAdmin } from '../lib/admin-session.js';
import { CliError } from '../lib/cli-error.js';
import { ConfigFlags, LimitFlag, OffsetFlag, parseArg, parseId } from '../lib/flags.js';
import { fields, pageFooter, table } from '../lib/output.js';

const ListFlags = z.object({
  ...ConfigFlags,
  status: DeviceStatusSchema.optional(),
  user: z.string().optional(),
  search: z.string().optional(),
  limit: LimitFlag.optional(),
  offset: OffsetFlag.optional(),
});
const ShowFlags = z.object({ ...ConfigFlags });
const CommandFlags = z.object({
  ...ConfigFlags,
  reason: z.string().max(500).optional(),
  message: z.string().max(500).optional(),
  user: z.string().optional(),
  group: z.string().optional(),
  devices: z.string().optional(),
});

/** `enclave devices list|show|command`. */
export function registerDevicesCommands(program: Command, env: CommandEnv): void {
  const { ctx } = env;
  const devices = program.command('devices').description('the device inventory and remote commands');

  withCommonOptions(
    devices
      .command('list')
      .description('list devices')
      .option('--status <status>', 'active or revoked')
      .option('--user <id>', 'only devices of this user (user id)')
      .option('--search <q>', 'match name, platform or email')
      .option('--limit <n>', 'page size (1–500)')
      .option('--offset <n>', 'skip this many'),
    { config: true },
  ).action(
    action(env, ListFlags, (o) => {
      const userId = o.user === undefined ? undefined : parseId(o.user, '--user');
      return withAdmin(ctx, o.config, async ({ client }) => {
        const page = await client.listDevices({
          status: o.status,
          userId,
          q: o.search,
          limit: o.limit,
          offset: o.offset,
        });
        return {
          data: page,
          text: `${table(
            ['ID', 'USER', 'PLATFORM', 'STATUS', 'COMPLIANCE', 'LAST CONTACT'],
            page.items.map((d) => [
              d.id,
              d.userEmail,
              d.platform,
              d.status,
              d.compliance,
              d.lastContactAt ?? '-',
            ]),
          )}\n${pageFooter(page.items.length, page.total, page.offset)}`,
        };
      });
    }),
  );

  withCommonOptions(
    devices
      .command('show')
      .description('show a device and its command history')
      .argument('<id>', 'device id'),
    { config: true },
  ).action(
    action(env, ShowFlags, (o, [ref]) => {
      const id = parseId(ref);
      return withAdmin(ctx, o.config, async ({ client }) => {
        const device = await client.getDevice(id);
        const history = device.commands.length
          ? table(
              ['COMMAND', 'TYPE', 'STATE', 'CREATED'],
              device.commands.map((c) => [c.commandId, c.type, c.state, c.createdAt]),
            )
          : '(no commands)';
        return {
          data: device,
          text: `${fields([
            ['id', device.id],
            ['user', device.userEmail],
            ['name', device.name],
            ['platform', device.platform],
            ['client', device.clientVersion],
            ['status', device.status],
            ['compliance', device.compliance],
            ...(device.complianceReasons ?? []).map((r): [string, string] => [
              '  reason',
              `${r.code} → ${r.action} ${r.enforcedAt ? 'applied' : `from ${r.enforceAt}`} (${r.message})`,
            ]),
            ['certificate', `${device.certificateSerial} (until ${device.certificateNotAfter})`],
            ['activated', device.activatedAt],
            ['last contact', device.lastContactAt],
            ['revoked', device.revokedAt],
          ])}\n\n${history}`,
        };
      });
    }),
  );

  withCommonOptions(
    devices
      .command('command')
      .description(
        'send a remote command: lock, unlock, wipe-work, wipe, revoke or ping — to one device (ID TYPE) ' +
          'or in bulk (--user, --group or --devices, then TYPE); a bulk command over the threshold or a ' +
          'full wipe becomes an approval request for a second administrator',
      )
      .argument('<id-or-type>', 'device id, or the command type with --user/--group/--devices')
      .argument('[type]', 'lock | unlock | wipe-work | wipe | revoke | ping')
      .option('--user <email>', 'every active device of this user')
      .option('--group <name>', "every active device of this group's members")
      .option('--devices <ids>', 'comma-separated device ids')
      .option('--message <text>', 'shown on the locked screen (lock)')
      .option('--reason <text>', 'why (recorded in the audit log)'),
    { config: true },
  ).action(
    action(env, CommandFlags, (o, [first, second]) => {
      const bulk = [o.user, o.group, o.devices].filter((x) => x !== undefined).length;
      if (bulk > 1) throw new CliError('usage_error', 'name one target: --user, --group or --devices');
      const single = second !== undefined;
      if (single === (bulk === 1))
        throw new CliError('usage_error', 'give either ID TYPE, or TYPE with --user, --group or --devices');
      const type = parseArg(
        DeviceCommandTypeSchema,
        single ? second : first,
        'command type (lock, unlock, wipe-work, wipe, revoke, ping)',
      );
      const extra = {
        ...(o.reason ? { reason: o.reason } : {}),
        ...(o.message ? { message: o.message } : {}),
      };
      if (single) {
        const id = parseId(first);
        return withAdmin(ctx, o.config, async ({ client }) => {
          const r = await client.sendDeviceCommand(id, { type, ...extra });
          if (!('commandId' in r)) return { data: r, text: describePending(r) };
          return {
            data: { ...r, deviceId: id },
            text: `${r.type} for device ${id}: ${r.state} (command ${r.commandId}).`,
          };
        });
      }
      const target = o.devices
        ? { deviceIds: o.devices.split(',').map((d, i) => parseId(d.trim(), `--devices[${i}]`)) }
        : o.user
          ? { userEmail: o.user }
          : { groupName: o.group ?? '' };
      return withAdmin(ctx, o.config, async ({ client }) => {
        const r = await client.sendBulkCommand({ type, ...target, ...extra });
        if (r.state !== 'queued') return { data: r, text: describePending(r) };
        return {
          data: r,
          text: `${type} queued for ${r.commands.length} device(s).\n${table(
            ['DEVICE', 'COMMAND', 'STATE'],
            r.commands.map((c) => [c.deviceId, c.commandId, c.state]),
          )}`,
        };
      });
    }),
  );
}

function describePending(a: ApprovalRecord): string {
  const why = a.guardrail === 'full_wipe' ? 'a full wipe' : `${a.deviceCount} devices is over the threshold`;
  return (
    `${a.type} for ${a.deviceCount} device(s) needs a second administrator (${why}).\n` +
    `Approval request ${a.id}: ${a.state}, expires ${a.expiresAt}.\n` +
    `Another administrator runs: enclave approvals approve ${a.id}`
  );
}
