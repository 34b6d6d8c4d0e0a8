import { AdminClient, ApiError } from '@enclave/client';
import type { CliContext } from './context.js';
import { CliError } from './cli-error.js';
import { loadSession, resolveConfigDir, type Session } from './session-store.js';

/** An admin client on the saved session of a config directory. */
export interface AdminSession {
  client: AdminClient;
  session: Session;
  configDir: string;
}

/** Opens the saved admin session (`not_logged_in` when there is none) with a transport pinned to its CA. */
export async function openAdminSession(
  ctx: CliContext,
  configFlag: string | undefined,
): Promise<AdminSession> {
  const configDir = resolveConfigDir(ctx, configFlag);
  const session = await loadSession(configDir);
  const client = new AdminClient(ctx.transport({ baseUrl: session.server, ca: session.caPem }), {
    token: session.token,
  });
  return { client, session, configDir };
}

/**
 * Runs `fn` with the saved admin session and adds what to do next to the errors a stale session
 * produces (expired token, re-initialised server).
 */
export async function withAdmin<T>(
  ctx: CliContext,
  configFlag: string | undefined,
  fn: (admin: AdminSession) => Promise<T>,
): Promise<T> {
  const admin = await openAdminSession(ctx, configFlag);
  try {
    return await fn(admin);
  } catch (err) {
    if (err instanceof ApiError && (err.code === 'unauthenticated' || err.code === 'session_expired')) {
      throw new CliError(
        err.code,
        `${err.message} — run \`enclave login --server ${admin.session.server} --email ${admin.session.email} --password-file F\``,
      );
    }
    if (err instanceof ApiError && err.code === 'forbidden') {
      throw new CliError(
        'forbidden',
        `${err.message} (you are ${admin.session.email}, role ${admin.session.role})`,
      );
    }
    throw err;
  }
}
