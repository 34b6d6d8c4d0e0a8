import fs from 'node:fs/promises';
import path from 'node:path';
import type { CommandHandlers } from './command-runner.js';

/** Files that hold work data or keys in a device directory (wipe-work removes them all). */
export const WORK_FILES = ['device.key', 'mls.state', 'messenger.state', 'downloads', 'commands.json'];

/**
 * The Node platform's command handlers for a device directory: the lock state is a file an app
 * honours; wipe-work deletes keys, MLS state, messages and downloads; wipe removes everything.
 */
export function nodeCommandHandlers(
  dir: string,
  hooks: { onWipe?: () => Promise<void> } = {},
): CommandHandlers {
  const lockFile = path.join(dir, 'lock.json');
  return {
    async lock(message) {
      await fs.writeFile(
        lockFile,
        JSON.stringify({ locked: true, message: message ?? null, at: new Date().toISOString() }),
        { mode: 0o600 },
      );
    },
    async unlock() {
      await fs.rm(lockFile, { force: true });
    },
    async wipeWork() {
      for (const f of WORK_FILES) await fs.rm(path.join(dir, f), { recursive: true, force: true });
      await fs.writeFile(
        path.join(dir, 'wiped.json'),
        JSON.stringify({ wiped: 'work', at: new Date().toISOString() }),
      );
    },
    async wipe() {
      // The platform hook (a real phone would factory-reset); here: every file of the device.
      if (hooks.onWipe) await hooks.onWipe();
      for (const f of await fs.readdir(dir)) await fs.rm(path.join(dir, f), { recursive: true, force: true });
      await fs.writeFile(
        path.join(dir, 'wiped.json'),
        JSON.stringify({ wiped: 'full', at: new Date().toISOString() }),
      );
    },
    ping: () => Promise.resolve(),
  };
}
