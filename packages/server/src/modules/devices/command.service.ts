import { randomBytes } from 'node:crypto';
import {
  COMMAND_TTL_MS,
  type CommandEnvelope,
  type CommandType,
  type SignedCommand,
} from '@enclave/protocol';
import type { Bus } from '../../platform/bus/bus.js';
import type { Db } from '../../platform/db/database.js';
import type { Database } from '../../platform/db/schema.js';
import { AppError } from '../../platform/http/app-error.js';
import type { AuditService } from '../audit/index.js';
import type { PkiService } from '../pki/index.js';

type CommandRow = Database['device_commands'];

/**
 * Remote commands: each is a canonical JSON envelope (device, type, params, nonce, expiry) signed by
 * the server's command key, which the enterprise CA certifies. The device verifies before acting
 * and reports back; the lifecycle is queued → delivered → acknowledged → done | failed | expired.
 */
export class CommandService {
  constructor(
    private readonly db: Db,
    private readonly pki: PkiService,
    private readonly audit: AuditService,
    private readonly bus: Bus,
  ) {}

  async create(
    deviceId: string,
    type: CommandType,
    requestedBy: string | null,
    params: { message?: string | undefined },
  ): Promise<CommandRow> {
    const now = new Date();
    const envelope: CommandEnvelope = {
      v: 1,
      commandId: crypto.randomUUID(),
      deviceId,
      type,
      params: params.message ? { message: params.message } : {},
      nonce: randomBytes(24).toString('base64url'),
      issuedAt: now.toISOString(),
      expiresAt: new Date(now.getTime() + COMMAND_TTL_MS).toISOString(),
    };
    const text = JSON.stringify(envelope);
    const { signature } = await this.pki.signCommand(text);
    const row: CommandRow = {
      id: envelope.commandId,
      device_id: deviceId,
      type,
      state: 'queued',
      requested_by: requestedBy,
      created_at: envelope.issuedAt,
      updated_at: envelope.issuedAt,
      params: JSON.stringify(envelope.params),
      nonce: envelope.nonce,
      envelope: text,
      signature,
      expires_at: envelope.expiresAt,
      delivered_at: null,
      acknowledged_at: null,
      completed_at: null,
      failure_reason: null,
    };
    await this.db.insertInto('device_commands').values(row).execute();
    this.bus.publish('command.queued', { deviceId });
    return row;
  }

  /** Commands waiting for the device, signed; handing them out marks them delivered. */
  async pendingFor(deviceId: string, opts: { onlyNew?: boolean } = {}): Promise<SignedCommand[]> {
    const rows = await this.db
      .selectFrom('device_commands')
      .selectAll()
      .where('device_id', '=', deviceId)
      .where('state', 'in', ['queued', 'delivered'])
      .where('envelope', 'is not', null)
      .orderBy('created_at', 'asc')
      .execute();
    const now = new Date().toISOString();
    const live = rows.filter((r) => (r.expires_at ?? '') > now);
    const fresh = live.filter((r) => r.state === 'queued').map((r) => r.id);
    if (fresh.length) {
      await this.db
        .updateTable('device_commands')
        .set({ state: 'delivered', delivered_at: now, updated_at: now })
        .where('id', 'in', fresh)
        .where('state', '=', 'queued')
        .execute();
      for (const r of live.filter((x) => fresh.includes(x.id))) this.stateChanged(r, 'delivered');
    }
    const signerCertificate = this.pki.commandSignerPem;
    return live
      .filter((r) => !opts.onlyNew || fresh.includes(r.id))
      .map((r) => ({
        commandId: r.id,
        type: r.type as CommandType,
        envelope: r.envelope ?? '',
        signature: r.signature ?? '',
        signerCertificate,
      }));
  }

  /** The device's report. Only forward moves are accepted; a final state is final. */
  async ack(
    deviceId: string,
    commandId: string,
    state: 'acknowledged' | 'done' | 'failed',
    reason: string | undefined,
    ip: string,
  ) {
    const row = await this.db
      .selectFrom('device_commands')
      .selectAll()
      .where('id', '=', commandId)
      .where('device_id', '=', deviceId)
      .executeTakeFirst();
    if (!row) throw new AppError(404, 'not_found', 'no such command for this device');
    const order = ['queued', 'delivered', 'acknowledged', 'done'];
    const final = ['done', 'failed', 'expired'];
    if (final.includes(row.state)) return { commandId, state: row.state as 'done' };
    if (state === 'acknowledged' && order.indexOf(row.state) >= 2)
      return { commandId, state: row.state as 'acknowledged' };
    // A second delivery of a command the device already took is refused as a replay by the device;
    // that report must not undo the first, genuine run.
    if (state === 'failed' && reason === 'replayed_nonce' && row.state === 'acknowledged')
      return { commandId, state: 'acknowledged' as const };
    const now = new Date().toISOString();
    await this.db
      .updateTable('device_commands')
      .set({
        state,
        updated_at: now,
        ...(state === 'acknowledged'
          ? { acknowledged_at: now }
          : { completed_at: now, acknowledged_at: row.acknowledged_at ?? now }),
        ...(row.delivered_at ? {} : { delivered_at: now }),
        ...(state === 'failed' ? { failure_reason: reason ?? 'unspecified' } : {}),
      })
      .where('id', '=', commandId)
      .execute();
    this.stateChanged(row, state, reason);
    await this.audit.record({
      actor: { type: 'device', id: deviceId },
      action: `command.${state}`,
      target: deviceId,
      outcome: state === 'failed' ? 'failure' : 'success',
      details: { commandId, type: row.type, ...(reason ? { reason } : {}) },
      ip,
    });
    return { commandId, state };
  }

  /** Commands past their expiry that never finished become `expired`. */
  async expire(): Promise<void> {
    const now = new Date().toISOString();
    const rows = await this.db
      .selectFrom('device_commands')
      .selectAll()
      .where('state', 'in', ['queued', 'delivered', 'acknowledged'])
      .where('expires_at', '<', now)
      .execute();
    if (!rows.length) return;
    await this.db
      .updateTable('device_commands')
      .set({ state: 'expired', updated_at: now })
      .where(
        'id',
        'in',
        rows.map((r) => r.id),
      )
      .execute();
    for (const r of rows) this.stateChanged(r, 'expired');
  }

  private stateChanged(row: CommandRow, state: string, reason?: string): void {
    this.bus.publish('command.state_changed', {
      commandId: row.id,
      deviceId: row.device_id,
      type: row.type,
      state,
      ...(reason ? { reason } : {}),
    });
  }
}
