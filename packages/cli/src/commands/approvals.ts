import type { Command } from 'commander';
import { z } from 'zod';
import { ApprovalStateSchema } from '@enclave/protocol';
import type { ApprovalRecord } from '@enclave/client';
import { action, withCommonOptions, type CommandEnv } from '../lib/action.js';
import { withAdmin } from '../lib/admin-session.js';
import { ConfigFlags, parseId } from '../lib/flags.js';
import { fields, table } from '../lib/output.js';

const ListFlags = z.object({ ...ConfigFlags, state: ApprovalStateSchema.optional() });
const DecideFlags = z.object({ ...ConfigFlags, reason: z.string().max(500).optional() });
const CancelFlags = z.object({ ...ConfigFlags });

function describe(a: ApprovalRecord): string {
  return fields([
    ['id', a.id],
    ['state', a.state],
    ['command', `${a.type} for ${a.deviceCount} device(s)`],
    ['guardrail', a.guardrail === 'full_wipe' ? 'full wipe' : 'over the bulk threshold'],
    ['requested by', a.requestedBy.email],
    ['decided by', a.decidedBy?.email ?? null],
    ['decision', a.decisionReason],
    ['expires', a.expiresAt],
    ['runs after', a.runAfter],
    ['executed', a.executedAt],
    ['commands', a.commandIds.length ? a.commandIds.join(', ') : null],
  ]);
}

/** `enclave approvals list|approve|deny|cancel` — the second administrator's side of guarded commands. */
export function registerApprovalsCommands(program: Command, env: CommandEnv): void {
  const { ctx } = env;
  const approvals = program
    .command('approvals')
    .description('approve or deny bulk commands and full wipes requested by another administrator');

  withCommonOptions(
    approvals
      .command('list')
      .description('list approval requests, newest first')
      .option('--state <state>', 'pending_approval | approved | denied | expired | cancelled | executed'),
    { config: true },
  ).action(
    action(env, ListFlags, (o) =>
      withAdmin(ctx, o.config, async ({ client }) => {
        const items = await client.listApprovals(o.state ? { state: o.state } : {});
        return {
          data: { items },
          text: items.length
            ? table(
                ['ID', 'STATE', 'TYPE', 'DEVICES', 'REQUESTED BY', 'EXPIRES', 'RUNS AFTER'],
                items.map((a) => [
                  a.id,
                  a.state,
                  a.type,
                  String(a.deviceCount),
                  a.requestedBy.email,
                  a.expiresAt,
                  a.runAfter ?? '-',
                ]),
              )
            : '(no approval requests)',
        };
      }),
    ),
  );

  withCommonOptions(
    approvals
      .command('approve')
      .description('approve a request; it runs after the cancellable delay')
      .argument('<id>', 'approval request id')
      .option('--reason <text>', 'why (recorded in the audit log)'),
    { config: true },
  ).action(
    action(env, DecideFlags, (o, [ref]) => {
      const id = parseId(ref);
      return withAdmin(ctx, o.config, async ({ client }) => {
        const a = await client.approveRequest(id, o.reason ? { reason: o.reason } : {});
        const when =
          a.state === 'executed' ? 'It has run.' : `It runs after ${a.runAfter ?? '-'} unless cancelled.`;
        return { data: a, text: `Approved. ${when}\n${describe(a)}` };
      });
    }),
  );

  withCommonOptions(
    approvals
      .command('deny')
      .description('deny a request')
      .argument('<id>', 'approval request id')
      .option('--reason <text>', 'why (shown to the requester, recorded in the audit log)'),
    { config: true },
  ).action(
    action(env, DecideFlags, (o, [ref]) => {
      const id = parseId(ref);
      return withAdmin(ctx, o.config, async ({ client }) => {
        const a = await client.denyRequest(id, o.reason ? { reason: o.reason } : {});
        return { data: a, text: `Denied.\n${describe(a)}` };
      });
    }),
  );

  withCommonOptions(
    approvals
      .command('cancel')
      .description('cancel a pending or approved request before it runs')
      .argument('<id>', 'approval request id'),
    { config: true },
  ).action(
    action(env, CancelFlags, (o, [ref]) => {
      const id = parseId(ref);
      return withAdmin(ctx, o.config, async ({ client }) => {
        const a = await client.cancelRequest(id);
        return { data: a, text: `Cancelled.\n${describe(a)}` };
      });
    }),
  );
}
