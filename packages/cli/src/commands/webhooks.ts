import type { Command } from 'commander';
import { z } from 'zod';
import type { WebhookCreated, WebhookDeliveryRecord } from '@enclave/client';
import { WEBHOOK_EVENT_TYPES } from '@enclave/protocol';
import { action, withCommonOptions, type CommandEnv } from '../lib/action.js';
import { withAdmin } from '../lib/admin-session.js';
import { ConfigFlags, LimitFlag, OffsetFlag, parseId } from '../lib/flags.js';
import { fields, pageFooter, table } from '../lib/output.js';

const EventsFlag = z
  .string()
  .transform((v) =>
    v
      .split(',')
      .map((e) => e.trim())
      .filter(Boolean),
  )
  .pipe(
    z
      .array(
        z.enum([...WEBHOOK_EVENT_TYPES, '*'], { message: `one of ${WEBHOOK_EVENT_TYPES.join(', ')} or *` }),
      )
      .min(1, 'name at least one event type'),
  );
const AddFlags = z.object({
  ...ConfigFlags,
  url: z.string().min(1),
  events: EventsFlag,
  description: z.string().optional(),
  disabled: z.boolean().optional(),
});
const PlainFlags = z.object({ ...ConfigFlags });
const DeliveriesFlags = z.object({
  ...ConfigFlags,
  status: z.enum(['pending', 'delivered', 'failed']).optional(),
  limit: LimitFlag.optional(),
  offset: OffsetFlag.optional(),
});

function secretText(created: WebhookCreated, verb: string): string {
  return [
    `${verb} webhook ${created.webhook.id} → ${created.webhook.url}`,
    fields([
      ['events', created.webhook.events.join(', ')],
      ['enabled', created.webhook.enabled ? 'yes' : 'no'],
      ['secret', created.secret],
    ]),
    'Store the secret now: it is not shown again. Verify x-enclave-signature with it (docs/API.md).',
  ].join('\n');
}

function deliveryRow(d: WebhookDeliveryRecord): string[] {
  return [
    d.id,
    d.event,
    d.status,
    String(d.attempts),
    d.lastStatusCode === null ? '-' : String(d.lastStatusCode),
    d.lastError ?? '-',
    d.status === 'pending' ? (d.nextAttemptAt ?? '-') : '-',
    d.createdAt,
  ];
}

/** `enclave webhooks add|list|remove|deliveries|test|rotate-secret`. */
export function registerWebhooksCommands(program: Command, env: CommandEnv): void {
  const { ctx } = env;
  const webhooks = program
    .command('webhooks')
    .description('endpoints that receive signed event notifications');

  withCommonOptions(
    webhooks
      .command('add')
      .description('add an endpoint; prints its signing secret once')
      .requiredOption('--url <url>', 'https:// URL (http:// only to 127.0.0.1/localhost)')
      .requiredOption('--events <list>', `comma-separated: ${WEBHOOK_EVENT_TYPES.join(', ')}, or *`)
      .option('--description <text>', 'what the endpoint is for')
      .option('--disabled', 'create it disabled'),
    { config: true },
  ).action(
    action(env, AddFlags, (o) =>
      withAdmin(ctx, o.config, async ({ client }) => {
        const created = await client.createWebhook({
          url: o.url,
          events: o.events,
          ...(o.description !== undefined ? { description: o.description } : {}),
          ...(o.disabled ? { enabled: false } : {}),
        });
        return { data: created, text: secretText(created, 'Added') };
      }),
    ),
  );

  withCommonOptions(webhooks.command('list').description('list endpoints'), { config: true }).action(
    action(env, PlainFlags, (o) =>
      withAdmin(ctx, o.config, async ({ client }) => {
        const list = await client.listWebhooks();
        return {
          data: list,
          text: list.items.length
            ? table(
                ['ID', 'URL', 'EVENTS', 'ENABLED', 'DESCRIPTION'],
                list.items.map((w) => [
                  w.id,
                  w.url,
                  w.events.join(','),
                  w.enabled ? 'yes' : 'no',
                  w.description || '-',
                ]),
              )
            : 'No webhooks — add one with `enclave webhooks add --url URL --events user.created`.',
        };
      }),
    ),
  );

  withCommonOptions(
    webhooks.command('remove').description('remove an endpoint').argument('<id>', 'webhook id'),
    {
      config: true,
    },
  ).action(
    action(env, PlainFlags, (o, [ref]) => {
      const id = parseId(ref);
      return withAdmin(ctx, o.config, async ({ client }) => {
        await client.deleteWebhook(id);
        return { data: { id, removed: true }, text: `Removed webhook ${id}.` };
      });
    }),
  );

  withCommonOptions(
    webhooks
      .command('deliveries')
      .description("an endpoint's delivery log, newest first")
      .argument('<id>', 'webhook id')
      .option('--status <status>', 'pending, delivered or failed')
      .option('--limit <n>', 'page size (1–500)')
      .option('--offset <n>', 'skip this many'),
    { config: true },
  ).action(
    action(env, DeliveriesFlags, (o, [ref]) => {
      const id = parseId(ref);
      return withAdmin(ctx, o.config, async ({ client }) => {
        const page = await client.listWebhookDeliveries(id, {
          status: o.status,
          limit: o.limit,
          offset: o.offset,
        });
        return {
          data: page,
          text: `${table(
            ['ID', 'EVENT', 'STATUS', 'ATTEMPTS', 'HTTP', 'LAST ERROR', 'NEXT TRY', 'CREATED'],
            page.items.map(deliveryRow),
          )}\n${pageFooter(page.items.length, page.total, page.offset)}`,
        };
      });
    }),
  );

  withCommonOptions(
    webhooks
      .command('test')
      .description('send a webhook.test event to an endpoint')
      .argument('<id>', 'webhook id'),
    { config: true },
  ).action(
    action(env, PlainFlags, (o, [ref]) => {
      const id = parseId(ref);
      return withAdmin(ctx, o.config, async ({ client }) => {
        const d = await client.testWebhook(id);
        return {
          data: d,
          text: `Queued webhook.test as delivery ${d.id} — see \`enclave webhooks deliveries ${id}\`.`,
        };
      });
    }),
  );

  withCommonOptions(
    webhooks
      .command('rotate-secret')
      .description('replace the signing secret; prints the new one once')
      .argument('<id>', 'webhook id'),
    { config: true },
  ).action(
    action(env, PlainFlags, (o, [ref]) => {
      const id = parseId(ref);
      return withAdmin(ctx, o.config, async ({ client }) => {
        const rotated = await client.rotateWebhookSecret(id);
        return { data: rotated, text: secretText(rotated, 'Rotated the secret of') };
      });
    }),
  );
}
