import type { Command } from 'commander';
import type { z } from 'zod';
import type { CliContext } from './context.js';
import { parseFlags } from './flags.js';
import { emitResult, type CommandResult } from './output.js';

/** What command registrations share: the context and the exit code of the run. */
export interface CommandEnv {
  ctx: CliContext;
  /** Set by actions whose result is a failure (exit 1) without throwing. */
  setExitCode(code: number): void;
}

/**
 * Wraps a command handler for commander: parses the options with `flags` (zod), passes the
 * positional arguments, and prints the result in JSON or human form. A handler that printed for
 * itself (the long-running server) returns `undefined`.
 */
export function action<S extends z.ZodType<{ json?: boolean | undefined }>>(
  env: CommandEnv,
  flags: S,
  handler: (opts: z.output<S>, args: readonly unknown[]) => Promise<CommandResult | undefined>,
): (...commanderArgs: unknown[]) => Promise<void> {
  return async (...commanderArgs) => {
    const cmd = commanderArgs[commanderArgs.length - 1] as Command; // commander passes the command last
    const opts = parseFlags(flags, cmd.opts());
    const result = await handler(opts, cmd.processedArgs as readonly unknown[]);
    if (result) env.setExitCode(emitResult(env.ctx, Boolean(opts.json), result));
  };
}

/** Adds `--json` (and `--config DIR` when `config`) to a command. */
export function withCommonOptions(cmd: Command, opts: { config?: boolean } = {}): Command {
  cmd.option('--json', 'print one JSON document on stdout');
  if (opts.config)
    cmd.option(
      '--config <dir>',
      'config directory with the saved session (default: $ENCLAVE_CONFIG or ~/.config/enclave)',
    );
  return cmd;
}
