import { readFileSync } from 'node:fs';
import { z } from 'zod';

/** The CLI's version, from its package.json (dist/version.js → ../package.json). */
export const CLI_VERSION: string = z
  .object({ version: z.string() })
  .parse(JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'))).version;
