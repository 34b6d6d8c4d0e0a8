import type { Command } from 'commander';
import { z } from 'zod';
import { action, withCommonOptions, type CommandEnv } from '../lib/action.js';
import { withAdmin } from '../lib/admin-session.js';
import { ConfigFlags, LimitFlag, OffsetFlag } from '../lib/flags.js';
import { pageFooter, table } from '../lib/output.js';

const ListFlags = z.object({
  ...ConfigFlags,
  limit: LimitFlag.optional(),
  offset: OffsetFlag.optional(),
  action: z.string().max(100).optional(),
  search: z.string().optional(),
});
const VerifyFlags = z.object({ ...ConfigFlags });

/** `enclave audit list|verify`. */
export function registerAuditCommands(program: Command, env: CommandEnv): void {
  const { ctx } = env;
  const audit = program.command('audit').description('the hash-chained audit log');

  withCommonOptions(
    audit
      .command('list')
      .description('list audit entries')
      .option('--limit <n>', 'page size (1–500)')
      .option('--offset <n>', 'skip this many')
      .option('--action <name>', 'only this action, e.g. device.revoke')
      .option('--search <q>', 'free-text match'),
    { config: true },
  ).action(
    action(env, ListFlags, (o) =>
      withAdmin(ctx, o.config, async ({ client }) => {
        const page = await client.listAudit({
          limit: o.limit,
          offset: o.offset,
          action: o.action,
          q: o.search,
        });
        return {
          data: page,
          text: `${table(
            ['SEQ', 'AT', 'ACTOR', 'ACTION', 'TARGET', 'OUTCOME'],
            page.items.map((e) => [
              String(e.seq),
              e.at,
              e.actorLabel ?? e.actorId ?? e.actorType,
              e.action,
              e.target ?? '-',
              e.outcome,
            ]),
          )}\n${pageFooter(page.items.length, page.total, page.offset)}`,
        };
      }),
    ),
  );

  withCommonOptions(
    audit.command('verify').description('check the audit hash chain end to end (exit 1 if broken)'),
    { config: true },
  ).action(
    action(env, VerifyFlags, (o) =>
      withAdmin(ctx, o.config, async ({ client }) => {
        const result = await client.verifyAudit();
        if (result.ok) return { data: result, text: `Audit log intact: ${result.entries} entries verified.` };
        const where = result.firstBadSeq === null ? 'an unknown entry' : `entry #${result.firstBadSeq}`;
        return {
          data: result,
          text: `Audit log BROKEN at ${where} (${result.entries} entries checked).`,
          failure: {
            code: 'audit_chain_broken',
            message: `the audit log chain is broken at ${where}: ${result.reason ?? 'no reason given'}`,
          },
        };
      }),
    ),
  );
}
