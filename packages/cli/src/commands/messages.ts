import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { z } from 'zod';
import { DEVICE_PASSPHRASE_ENV, Messenger, readDeviceDir } from '@enclave/client';
import { action, withCommonOptions, type CommandEnv } from '../lib/action.js';
import { CliError } from '../lib/cli-error.js';
import type { CliContext } from '../lib/context.js';
import { CommonFlags, ServerUrlFlag } from '../lib/flags.js';
import { table } from '../lib/output.js';

const Base = {
  ...CommonFlags,
  config: z.string().optional(),
  dir: z.string().min(1),
  server: ServerUrlFlag.optional(),
} as const;
const SendFlags = z
  .object({
    ...Base,
    to: z.string().min(3).optional(),
    conversation: z.string().uuid().optional(),
    text: z.string().min(1).max(100_000),
    file: z.array(z.string().min(1)).max(10).optional(),
  })
  .refine((o) => (o.to === undefined) !== (o.conversation === undefined), {
    message: 'give exactly one of --to or --conversation',
    path: ['to'],
  });
const ReceiveFlags = z.object({
  ...Base,
  wait: z.coerce.number().min(0).max(3600).optional(),
  saveDir: z.string().min(1).optional(),
});
const ListFlags = z.object({ ...Base });
const ListenFlags = z.object({ ...Base, seconds: z.coerce.number().min(1).max(86_400).optional() });
const MembersFlags = z.object({ ...Base, conversation: z.string().uuid() });

const passphrase = (ctx: CliContext) => ctx.env[DEVICE_PASSPHRASE_ENV] || null;

/** Opens this device's messenger over HTTPS pinned to the device's own `ca.pem`. */
export async function openMessenger(ctx: CliContext, dir: string, server?: string): Promise<Messenger> {
  const local = await readDeviceDir(dir, { passphrase: passphrase(ctx) });
  const transport = ctx.transport({ baseUrl: server ?? local.record.server, ca: local.caPem });
  const baseUrl = server ?? local.record.server;
  return Messenger.open({
    dir,
    transport,
    passphrase: passphrase(ctx),
    stream: { baseUrl, ca: local.caPem },
  });
}

async function withMessenger<T>(
  ctx: CliContext,
  dir: string,
  server: string | undefined,
  fn: (m: Messenger) => Promise<T>,
): Promise<T> {
  const m = await openMessenger(ctx, dir, server);
  try {
    return await fn(m);
  } finally {
    await m.close();
  }
}

/** `enclave device send|receive|conversations|members` — end-to-end encrypted messaging (MLS). */
export function registerMessagingCommands(device: Command, env: CommandEnv): void {
  const { ctx } = env;
  const common = (c: Command) =>
    withCommonOptions(
      c
        .requiredOption('--dir <dir>', 'device directory')
        .option('--server <url>', 'server URL (default: the one the device was activated with)')
        .option(
          '--config <dir>',
          'accepted for symmetry with the admin commands; device state lives in --dir',
        ),
    );

  common(
    device
      .command('send')
      .description('encrypt a message on this device and send it (MLS; the server sees ciphertext only)')
      .option('--to <emails>', 'recipients, comma-separated (a conversation with exactly these people)')
      .option('--conversation <id>', 'an existing conversation')
      .requiredOption('--text <text>', 'the message')
      .option(
        '--file <path>',
        'attach a file (encrypted on this device; repeatable)',
        (v: string, prev: string[] = []) => [...prev, v],
      ),
  ).action(
    action(env, SendFlags, async (o) => {
      const to = o.to
        ?.split(',')
        .map((e) => e.trim())
        .filter(Boolean);
      const r = await withMessenger(ctx, o.dir, o.server, async (m) => {
        await m.ensureKeyPackages();
        return m.send({
          ...(to ? { to } : {}),
          ...(o.conversation ? { conversationId: o.conversation } : {}),
          text: o.text,
          ...(o.file ? { files: o.file } : {}),
        });
      });
      return { data: r, text: `Sent ${r.messageId} in conversation ${r.conversationId}.` };
    }),
  );

  common(
    device
      .command('receive')
      .description('fetch, decrypt and acknowledge new messages')
      .option('--wait <seconds>', 'wait up to this long for a first message')
      .option('--save-dir <dir>', 'where decrypted attachments go (default: DIR/downloads)'),
  ).action(
    action(env, ReceiveFlags, async (o) => {
      const deadline = Date.now() + (o.wait ?? 0) * 1000;
      const saveDir = path.resolve(o.saveDir ?? path.join(o.dir, 'downloads'));
      const messages = await withMessenger(ctx, o.dir, o.server, async (m) => {
        await m.ensureKeyPackages();
        for (;;) {
          await m.sync();
          const got = await m.drainInbox();
          if (!got.length && Date.now() < deadline) {
            // Wait on the WebSocket stream: new deliveries are pushed, processed and acked as they come.
            await m.listen({ timeoutMs: deadline - Date.now(), stopWhen: () => m.inboxSize > 0 });
            got.push(...(await m.drainInbox()));
          }
          if (got.length || Date.now() >= deadline) {
            const out = [];
            for (const x of got) {
              const files = [];
              for (const a of x.attachments ?? []) {
                await fs.promises.mkdir(saveDir, { recursive: true, mode: 0o700 });
                const file = path.join(saveDir, `${x.messageId}-${path.basename(a.name)}`);
                await m.saveAttachment(a, file);
                files.push({ name: a.name, size: a.size, path: file });
              }
              out.push({
                conversationId: x.conversationId,
                messageId: x.messageId,
                from: x.from,
                text: x.text,
                sentAt: x.sentAt,
                ...(files.length ? { attachments: files } : {}),
              });
            }
            return out;
          }
          await new Promise((r) => setTimeout(r, 500));
        }
      });
      const data = { messages };
      return {
        data,
        text: messages.length
          ? messages.map((x) => `[${x.sentAt}] ${x.from}: ${x.text}`).join('\n')
          : '(no new messages)',
      };
    }),
  );

  common(
    device
      .command('listen')
      .description('stay connected: run signed commands and take in messages as they are pushed')
      .option('--seconds <n>', 'how long to stay connected (default 60)'),
  ).action(
    action(env, ListenFlags, async (o) => {
      const r = await withMessenger(ctx, o.dir, o.server, async (m) => {
        const commands = await m.runCommands(await m.pendingCommands());
        if (!m.isWiped) {
          await m.ensureKeyPackages();
          await m.sync();
          await m.listen({ timeoutMs: (o.seconds ?? 60) * 1000, stopWhen: () => m.isWiped });
        }
        return {
          commands: [...commands, ...m.commandResults],
          policyUpdates: m.policyUpdates,
          waitingMessages: m.inboxSize,
          wiped: m.isWiped,
        };
      });
      return {
        data: r,
        text: `${
          r.commands.length
            ? table(
                ['COMMAND', 'TYPE', 'STATE'],
                r.commands.map((c) => [c.commandId, c.type, c.state]),
              )
            : '(no commands)'
        }\n${r.waitingMessages} message(s) waiting — \`enclave device receive\` shows them${r.wiped ? '\nthis device was wiped' : ''}`,
      };
    }),
  );

  common(device.command('conversations').description("this device's conversations")).action(
    action(env, ListFlags, async (o) => {
      const items = await withMessenger(ctx, o.dir, o.server, (m) => m.conversations());
      return {
        data: { items },
        text: items.length
          ? table(
              ['ID', 'KIND', 'NAME', 'MEMBERS'],
              items.map((c) => [c.id, c.kind, c.name ?? '-', c.memberEmails.join(', ')]),
            )
          : '(no conversations)',
      };
    }),
  );

  common(
    device
      .command('members')
      .description('the devices that can read a conversation')
      .requiredOption('--conversation <id>', 'conversation id'),
  ).action(
    action(env, MembersFlags, async (o) => {
      const r = await withMessenger(ctx, o.dir, o.server, (m) => m.members(o.conversation));
      if (!r.devices.length) throw new CliError('not_found', 'no devices in that conversation');
      return {
        data: r,
        text: table(
          ['USER', 'DEVICE', 'STATE', 'CERTIFICATE SHA-256'],
          r.devices.map((d) => [d.userEmail, d.deviceId, d.state, d.certificateFingerprint]),
        ),
      };
    }),
  );
}
