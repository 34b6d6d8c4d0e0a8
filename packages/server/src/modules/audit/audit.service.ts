import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { AuditEntry, AuditFilter, AuditVerifyResult } from '@enclave/protocol';
import { isUniqueViolation } from '../../platform/db/database.js';
import { type AuditRepository, type AuditRow, GENESIS } from './audit.repository.js';

export interface AuditActor {
  type: 'admin' | 'device' | 'system' | 'anonymous' | 'employee';
  id?: string | null;
  label?: string | null;
}

export interface AuditEvent {
  actor: AuditActor;
  action: string;
  target?: string | null;
  outcome?: 'success' | 'failure';
  details?: Record<string, unknown>;
  ip?: string | null;
}

export const SYSTEM: AuditActor = { type: 'system', id: null, label: 'enclave' };

/** The hash of an entry commits to the previous entry's hash and to every stored field of its own. */
export function entryHash(row: Omit<AuditRow, 'hash'>): string {
  const fields = [
    row.seq,
    row.at,
    row.actor_type,
    row.actor_id,
    row.actor_label,
    row.action,
    row.target,
    row.outcome,
    row.details,
    row.ip,
  ];
  return createHash('sha256')
    .update(`${row.prev_hash}\n${JSON.stringify(fields)}`)
    .digest('hex');
}

/**
 * The tamper-evident audit log: an append-only hash chain. Editing, inserting or deleting a row
 * breaks the chain at that row, and the head stored apart from the rows catches truncation.
 */
export class AuditService {
  constructor(private readonly repo: AuditRepository) {}

  async record(event: AuditEvent): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.repo.append((prev) => {
          const row: Omit<AuditRow, 'hash'> = {
            seq: prev.seq + 1,
            at: new Date().toISOString(),
            actor_type: event.actor.type,
            actor_id: event.actor.id ?? null,
            actor_label: event.actor.label ?? null,
            action: event.action,
            target: event.target ?? null,
            outcome: event.outcome ?? 'success',
            details: JSON.stringify(event.details ?? {}),
            ip: event.ip ?? null,
            prev_hash: prev.hash,
          };
          return { ...row, hash: entryHash(row) };
        });
        return;
      } catch (err) {
        // Two nodes appended the same seq at once: the loser re-reads the head and tries again.
        if (isUniqueViolation(err) && attempt < 20) continue;
        throw err;
      }
    }
  }

  async list(opts: AuditFilter & { limit: number; offset: number }) {
    const { rows, total } = await this.repo.page(opts);
    return { items: rows.map(present), total, limit: opts.limit, offset: opts.offset };
  }

  /** The newest `limit` entries (no total: the dashboard needs no count of the whole log). */
  async latest(limit: number): Promise<AuditEntry[]> {
    return (await this.repo.filteredBefore({}, Number.MAX_SAFE_INTEGER, limit)).map(present);
  }

  /**
   * The filtered log as CSV, newest first, read in pages of 1000 so memory stays flat. The export
   * itself is audited first (who exported what), so it appears in the log it describes.
   */
  async exportCsv(filter: AuditFilter, by: AuditActor, ip: string): Promise<Readable> {
    await this.record({ actor: by, action: 'audit.exported', details: { filter }, ip });
    const repo = this.repo;
    async function* lines(): AsyncGenerator<string> {
      yield `${CSV_COLUMNS.join(',')}\r\n`;
      let before = Number.MAX_SAFE_INTEGER;
      for (;;) {
        const rows = await repo.filteredBefore(filter, before, 1000);
        if (rows.length === 0) return;
        yield rows.map((r) => `${csvRow(r)}\r\n`).join('');
        before = Number(rows[rows.length - 1]?.seq);
        if (rows.length < 1000) return;
      }
    }
    return Readable.from(lines());
  }

  /** Walks the whole chain; names the first entry whose hash, link or position is wrong. */
  async verify(): Promise<AuditVerifyResult> {
    let prevSeq = 0;
    let prevHash = GENESIS;
    let count = 0;
    for (;;) {
      const batch = await this.repo.batchAfter(prevSeq, 1000);
      if (batch.length === 0) break;
      for (const row of batch) {
        const seq = Number(row.seq);
        if (seq !== prevSeq + 1) return bad(count, prevSeq + 1, `entry ${prevSeq + 1} is missing (deleted)`);
        if (row.prev_hash !== prevHash)
          return bad(count, seq, `entry ${seq} does not link to entry ${prevSeq}`);
        if (entryHash(row) !== row.hash)
          return bad(count, seq, `entry ${seq} was modified after it was written`);
        prevSeq = seq;
        prevHash = row.hash;
        count++;
      }
    }
    const head = await this.repo.head();
    if (head && (head.seq !== prevSeq || head.hash !== prevHash)) {
      return bad(
        count,
        Math.min(head.seq, prevSeq + 1),
        `the chain ends at entry ${prevSeq} but the recorded head is entry ${head.seq} (entries removed from the end)`,
      );
    }
    return { ok: true, entries: count, firstBadSeq: null, reason: null };
  }
}

function bad(entries: number, seq: number, reason: string): AuditVerifyResult {
  return { ok: false, entries, firstBadSeq: seq, reason };
}

function present(row: AuditRow): AuditEntry {
  let details: Record<string, unknown> = {};
  try {
    details = JSON.parse(row.details) as Record<string, unknown>;
  } catch {
    details = { unreadable: true };
  }
  return {
    seq: Number(row.seq),
    at: row.at,
    actorType: row.actor_type as AuditEntry['actorType'],
    actorId: row.actor_id,
    actorLabel: row.actor_label,
    action: row.action,
    target: row.target,
    outcome: row.outcome as AuditEntry['outcome'],
    details,
    ip: row.ip,
    hash: row.hash,
  };
}

const CSV_COLUMNS = [
  'seq',
  'at',
  'actor_type',
  'actor_id',
  'actor',
  'action',
  'target',
  'outcome',
  'ip',
  'details',
  'hash',
];

/**
 * One CSV cell (RFC 4180): quoted when it holds a comma, quote or line break, and prefixed with `'`
 * when it starts with = + - @ (or tab/CR), so a spreadsheet never runs it as a formula.
 */
export function csvCell(value: string | number | null): string {
  let v = value === null ? '' : String(value);
  if (/^[=+\-@\t\r]/.test(v)) v = `'${v}`;
  return /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

function csvRow(r: AuditRow): string {
  return [
    Number(r.seq),
    r.at,
    r.actor_type,
    r.actor_id,
    r.actor_label,
    r.action,
    r.target,
    r.outcome,
    r.ip,
    r.details,
    r.hash,
  ]
    .map(csvCell)
    .join(',');
}
