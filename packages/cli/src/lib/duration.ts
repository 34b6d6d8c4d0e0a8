import { CliError } from './cli-error.js';

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };

/**
 * Parses a duration such as `90s`, `10m`, `24h`, `7d`, `2w` or a combination (`1d12h`) into
 * seconds. A bare number means seconds.
 */
export function parseDuration(text: string): number {
  const s = text.trim().toLowerCase();
  if (/^\d+$/.test(s)) return Number(s);
  if (!/^(\d+[smhdw])+$/.test(s)) {
    throw new CliError(
      'usage_error',
      `"${text}" is not a duration — use a number with a unit, e.g. 90s, 10m, 24h, 7d`,
    );
  }
  let total = 0;
  for (const m of s.matchAll(/(\d+)([smhdw])/g)) total += Number(m[1]) * (UNIT_SECONDS[m[2] ?? 's'] ?? 1);
  return total;
}

/** Renders seconds as the largest exact unit (`86400` → `1d`), for messages. */
export function formatDuration(seconds: number): string {
  for (const [unit, size] of [
    ['w', 604_800],
    ['d', 86_400],
    ['h', 3600],
    ['m', 60],
  ] as const) {
    if (seconds >= size && seconds % size === 0) return `${seconds / size}${unit}`;
  }
  return `${seconds}s`;
}
