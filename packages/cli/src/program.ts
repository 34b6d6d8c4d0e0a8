import { Command, CommanderError } from 'commander';
import { registerAccountCommands } from './commands/account.js';
import { registerActivationCommands } from './commands/activation.js';
import { registerApprovalsCommands } from './commands/approvals.js';
import { registerAdminsCommands } from './commands/admins.js';
import { registerAuditCommands } from './commands/audit.js';
import { registerAuthCommands } from './commands/auth.js';
import { registerDeviceCommands } from './commands/device.js';
import { registerDevicesCommands } from './commands/devices.js';
import { registerGroupsCommands } from './commands/groups.js';
import { registerPoliciesCommands } from './commands/policies.js';
import { registerServerCommands } from './commands/server.js';
import { registerUsersCommands } from './commands/users.js';
import { registerWebhooksCommands } from './commands/webhooks.js';
import type { CommandEnv } from './lib/action.js';
import { formatErrorJson, formatErrorLine, toErrorInfo } from './lib/cli-error.js';
import { processContext, type CliContext } from './lib/context.js';
import { CLI_VERSION } from './version.js';

/** Builds the `enclave` command tree. `env.setExitCode` receives the exit code of non-throwing failures. */
export function buildProgram(env: CommandEnv): Command {
  const program = new Command('enclave')
    .description('Enclave — self-hosted device management and secure messaging')
    .version(CLI_VERSION, '-V, --version')
    // Set before any .command(): subcommands inherit both. Errors are printed by run(), in one line.
    .exitOverride()
    .configureOutput({
      writeOut: (s) => env.ctx.stdout(s),
      writeErr: (s) => env.ctx.stderr(s),
      outputError: () => undefined,
    })
    .showSuggestionAfterError(true);
  registerServerCommands(program, env);
  registerAuthCommands(program, env);
  registerAccountCommands(program, env);
  registerAdminsCommands(program, env);
  registerUsersCommands(program, env);
  registerGroupsCommands(program, env);
  registerPoliciesCommands(program, env);
  registerActivationCommands(program, env);
  registerApprovalsCommands(program, env);
  registerDevicesCommands(program, env);
  registerAuditCommands(program, env);
  registerWebhooksCommands(program, env);
  registerDeviceCommands(program, env);
  return program;
}

/**
 * Runs the CLI on `argv` (as `process.argv`: node, script, args…) and returns the exit code.
 * Failures print one line `error: <message> (<code>)` on stderr and, with `--json`, the
 * `{"error":{"code","message"}}` document on stdout.
 */
export async function run(argv: readonly string[], ctx: CliContext = processContext()): Promise<number> {
  let exitCode = 0;
  const env: CommandEnv = { ctx, setExitCode: (code) => void (exitCode = code) };
  const json = argv.includes('--json');
  try {
    await buildProgram(env).parseAsync([...argv]);
    return exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return 0;
      if (err.code === 'commander.help') return 1; // a command group without a subcommand: help went to stderr
    }
    const info = toErrorInfo(err);
    if (json) ctx.stdout(`${formatErrorJson(info)}\n`);
    ctx.stderr(`${formatErrorLine(info)}\n`);
    return 1;
  }
}
