import { formatErrorLine, oneLine, type ErrorInfo } from './cli-error.js';
import type { CliContext } from './context.js';

/** What a command produced: one JSON document, its human rendering, and optionally a failure. */
export interface CommandResult {
  /** The `--json` document. */
  data: unknown;
  /** Human-readable text (printed as-is; a trailing newline is added). */
  text: string;
  /** A failure that still has a result to show (e.g. a broken audit chain): exit 1. */
  failure?: ErrorInfo;
  /** One-line warnings for stderr (human and JSON mode alike). */
  warnings?: string[];
}

/**
 * Prints a result: exactly one JSON document on stdout with `--json` (a failure is merged in as
 * `error`), text otherwise; a failure adds the one-line error on stderr. Returns the exit code.
 */
export function emitResult(ctx: CliContext, json: boolean, result: CommandResult): number {
  for (const w of result.warnings ?? []) ctx.stderr(`warning: ${oneLine(w)}\n`);
  if (json) {
    const doc = result.failure
      ? {
          ...(result.data as object),
          error: { code: result.failure.code, message: oneLine(result.failure.message) },
        }
      : result.data;
    ctx.stdout(`${JSON.stringify(doc)}\n`);
  } else if (result.text) {
    ctx.stdout(result.text.endsWith('\n') ? result.text : `${result.text}\n`);
  }
  if (result.failure) {
    ctx.stderr(`${formatErrorLine(result.failure)}\n`);
    return 1;
  }
  return 0;
}

/** Renders rows as an aligned text table with a header line. */
export function table(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

/** `key: value` lines with aligned values, skipping undefined values. */
export function fields(
  entries: readonly (readonly [string, string | number | boolean | null | undefined])[],
): string {
  const shown = entries.filter(([, v]) => v !== undefined);
  const width = Math.max(0, ...shown.map(([k]) => k.length));
  return shown.map(([k, v]) => `${`${k}:`.padEnd(width + 1)} ${v === null ? '-' : String(v)}`).join('\n');
}

/** A `showing N of TOTAL` footer for paged lists. */
export function pageFooter(shown: number, total: number, offset: number): string {
  if (total === 0) return '(none)';
  return shown === total ? `${total} total` : `showing ${offset + 1}–${offset + shown} of ${total}`;
}
