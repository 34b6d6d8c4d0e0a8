import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { RoleSchema } from '@enclave/protocol';
import { CliError } from './cli-error.js';
import type { CliContext } from './context.js';

/** `session.json`: the saved admin session. The token is a secret; the file is mode 0600. */
export const SessionSchema = z.object({
  server: z.string(),
  token: z.string(),
  caPem: z.string(),
  caFingerprint: z.string(),
  email: z.string(),
  role: RoleSchema,
  expiresAt: z.string(),
});
export type Session = z.infer<typeof SessionSchema>;

/** The config directory: `--config`, else `$ENCLAVE_CONFIG`, else `~/.config/enclave`. */
export function resolveConfigDir(ctx: Pick<CliContext, 'env' | 'homeDir'>, flag?: string): string {
  return resolve(flag ?? (ctx.env.ENCLAVE_CONFIG || join(ctx.homeDir, '.config', 'enclave')));
}

function sessionPath(dir: string): string {
  return join(dir, 'session.json');
}

/** Saves the session (directory 0700, file 0600, written atomically). */
export async function saveSession(dir: string, session: Session): Promise<string> {
  const created = await mkdir(dir, { recursive: true, mode: 0o700 });
  if (created !== undefined) await chmod(dir, 0o700);
  const path = sessionPath(dir);
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(SessionSchema.parse(session), null, 2)}\n`, { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, path);
  return path;
}

/** The saved session, or `undefined` when there is none. */
export async function readSession(dir: string): Promise<Session | undefined> {
  let text: string;
  try {
    text = await readFile(sessionPath(dir), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CliError('file_unreadable', `cannot read ${sessionPath(dir)}: ${(err as Error).message}`);
  }
  try {
    return SessionSchema.parse(JSON.parse(text));
  } catch {
    throw new CliError(
      'not_logged_in',
      `${sessionPath(dir)} is damaged — run \`enclave login --server URL --email E --password-file F\` again`,
    );
  }
}

/** The saved session; fails with `not_logged_in` when there is none. */
export async function loadSession(dir: string): Promise<Session> {
  const session = await readSession(dir);
  if (!session) {
    throw new CliError(
      'not_logged_in',
      `not logged in (no session in ${dir}) — run \`enclave login --server URL --email E --password-file F\` first`,
    );
  }
  return session;
}

/** Deletes the saved session; true when there was one. */
export async function deleteSession(dir: string): Promise<boolean> {
  const had = (await readSession(dir).catch(() => undefined)) !== undefined;
  await rm(sessionPath(dir), { force: true });
  return had;
}
