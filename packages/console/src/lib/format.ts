const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const dateOnly = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' });
const num = new Intl.NumberFormat();

export function fmtDateTime(iso: string | null | undefined): string {
  return iso ? dateTime.format(new Date(iso)) : '—';
}
export function fmtDate(iso: string | null | undefined): string {
  return iso ? dateOnly.format(new Date(iso)) : '—';
}
export function fmtNumber(n: number): string {
  return num.format(n);
}

/** "3 min ago", "in 2 days", "never". */
export function fmtRelative(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return 'never';
  const s = Math.round((new Date(iso).getTime() - now) / 1000);
  const abs = Math.abs(s);
  const rtf = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
  if (abs < 45) return s <= 0 ? 'just now' : 'in a few seconds';
  if (abs < 3600) return rtf.format(Math.round(s / 60), 'minute');
  if (abs < 86400) return rtf.format(Math.round(s / 3600), 'hour');
  if (abs < 86400 * 45) return rtf.format(Math.round(s / 86400), 'day');
  if (abs < 86400 * 550) return rtf.format(Math.round(s / (86400 * 30.4)), 'month');
  return rtf.format(Math.round(s / (86400 * 365)), 'year');
}

/** `wipe-work` → `Wipe work`, `os_version_below_minimum` → `OS version below minimum`. */
export function humanize(code: string): string {
  const s = code.replace(/[-_]/g, ' ').replace(/\bos\b/gi, 'OS');
  return s.charAt(0).toUpperCase() + s.slice(1);
}

export function plural(n: number, one: string, many = `${one}s`): string {
  return `${fmtNumber(n)} ${n === 1 ? one : many}`;
}
