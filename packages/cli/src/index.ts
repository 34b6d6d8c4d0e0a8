export { run, buildProgram } from './program.js';
export { CliError, formatErrorJson, formatErrorLine, toErrorInfo, type ErrorInfo } from './lib/cli-error.js';
export type { CliContext } from './lib/context.js';
export { parseDuration, formatDuration } from './lib/duration.js';
export type { ServerModule, InitEnclaveOptions, RunServerOptions, RunningServer } from './commands/server.js';
