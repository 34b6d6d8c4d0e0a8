import type { Command } from 'commander';
import { z } from 'zod';
import { DeviceCommandTypeSchema, DeviceStatusSchema } from '@enclave/protocol';
import { action, withCommonOptions, type CommandEnv } from '../lib/action.js';
import { withAdmin } from '../lib/admin-session.js';
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
const CommandFlags = z.object({ ...ConfigFlags, reason: z.string().max(500).optional() });

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
      .description('send a remote command: lock, unlock, wipe-work, wipe or revoke')
      .argument('<id>', 'device id')
      .argument('<type>', 'lock | unlock | wipe-work | wipe | revoke')
      .option('--reason <text>', 'why (recorded in the audit log)'),
    { config: true },
  ).action(
    action(env, CommandFlags, (o, [ref, rawType]) => {
      const id = parseId(ref);
      const type = parseArg(
        DeviceCommandTypeSchema,
        rawType,
        'command type (lock, unlock, wipe-work, wipe, revoke)',
      );
      return withAdmin(ctx, o.config, async ({ client }) => {
        const command = await client.sendDeviceCommand(id, {
          type,
          ...(o.reason ? { reason: o.reason } : {}),
        });
        return {
          data: { ...command, deviceId: id },
          text: `${command.type} for device ${id}: ${command.state} (command ${command.commandId}).`,
        };
      });
    }),
  );
}
