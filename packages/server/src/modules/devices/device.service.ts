import {
  type Approval,
  type CommandType,
  type Permission,
  type PolicySource,
  roleHasPermission,
} from '@enclave/protocol';
import type { Bus } from '../../platform/bus/bus.js';
import { AppError, forbidden, notFound } from '../../platform/http/app-error.js';
import type { AdminPrincipal } from '../../platform/http/route.js';
import type { AuditActor, AuditService } from '../audit/index.js';
import type { CommandService } from './command.service.js';
import type { PkiService } from '../pki/index.js';
import type { DeviceFilter, DeviceRepository } from './device.repository.js';

/** The policy shown on a device's page: which one applies, from which assignment, and why. */
export interface DevicePolicyExplained {
  id: string;
  name: string;
  version: number;
  source: PolicySource;
  explanation: string;
}
import { presentCommand, presentDevice } from './present.js';

/** Which permission each remote command needs. */
const COMMAND_PERMISSION: Record<CommandType, Permission> = {
  lock: 'devices:lock',
  unlock: 'devices:lock',
  ping: 'devices:lock',
  'wipe-work': 'devices:wipe',
  wipe: 'devices:wipe',
  revoke: 'devices:revoke',
};

/** The guardrail check a command passes before it is sent (implemented by the approvals module). */
export interface CommandGuard {
  /** Returns the approval request the command became, or null to send it now; throws 429 over the wipe rate. */
  gate(req: {
    type: CommandType;
    deviceIds: string[];
    target: { deviceIds?: string[]; userEmail?: string; groupName?: string };
    by: AdminPrincipal;
    ip: string;
    reason?: string | undefined;
    message?: string | undefined;
  }): Promise<Approval | null>;
}

/** Which permission a command type needs (also what an approver must hold). */
export function commandPermission(type: CommandType): Permission {
  return COMMAND_PERMISSION[type];
}

/** The device inventory and the commands administrators send to devices. */
export class DeviceService {
  constructor(
    private readonly devices: DeviceRepository,
    private readonly pki: PkiService,
    private readonly audit: AuditService,
    private readonly bus: Bus,
    private readonly commands: CommandService,
    private readonly guard?: CommandGuard,
    /** The user's effective policy and why it won (the policies module), for the device page. */
    private readonly policyOf?: (userId: string) => Promise<DevicePolicyExplained>,
  ) {}

  async list(q: DeviceFilter & { limit: number; offset: number }) {
    const { rows, total } = await this.devices.page(q);
    return { items: rows.map(presentDevice), total, limit: q.limit, offset: q.offset };
  }

  /** Those of `ids` that may no longer hold a stream (revoked, wiped or deleted meanwhile). */
  inactiveAmong(ids: string[]): Promise<string[]> {
    return this.devices.inactiveAmong(ids);
  }

  async get(id: string) {
    const row = await this.devices.byId(id);
    if (!row) throw notFound('device');
    const [commands, conversations, posture, policy] = await Promise.all([
      this.devices.commands(id),
      this.devices.conversationCount(id),
      this.devices.posture(id),
      this.policyOf
        ? this.policyOf(row.user_id)
        : Promise.resolve<DevicePolicyExplained>({
            id: '00000000-0000-4000-8000-000000000000',
            name: 'Default',
            version: 1,
            source: { kind: 'default' },
            explanation: 'no policy service is wired',
          }),
    ]);
    return {
      ...presentDevice(row),
      certificate: row.certificate,
      commands: commands.map(presentCommand),
      conversations,
      posture,
      policy,
    };
  }

  async command(
    id: string,
    type: CommandType,
    by: AdminPrincipal,
    ip: string,
    opts: { reason?: string | undefined; message?: string | undefined } = {},
  ) {
    const needed = COMMAND_PERMISSION[type];
    if (!roleHasPermission(by.role, needed))
      throw forbidden(`the ${by.role} role does not have the ${needed} permission`);
    const row = await this.devices.byId(id);
    if (!row) throw notFound('device');
    if (row.status === 'revoked') throw new AppError(409, 'conflict', 'the device is already revoked');
    // Guardrails (module approvals): a full wipe waits for a second administrator; wipes are rate-limited.
    const held = await this.guard?.gate({
      type,
      deviceIds: [id],
      target: { deviceIds: [id] },
      by,
      ip,
      ...opts,
    });
    if (held) return held;
    return this.execute(id, type, { adminId: by.adminId, email: by.email }, ip, opts);
  }

  /**
   * Sends a command the caller has already authorised (permission and guardrails checked), to an
   * active device. Approved bulk actions run through here.
   */
  async execute(
    id: string,
    type: CommandType,
    by: { adminId: string; email: string },
    ip: string | null,
    opts: { reason?: string | undefined; message?: string | undefined } = {},
  ) {
    const row = await this.devices.byId(id);
    if (!row) throw notFound('device');
    if (row.status === 'revoked') throw new AppError(409, 'conflict', 'the device is already revoked');
    if (type !== 'revoke') {
      const cmd = await this.commands.create(id, type, by.adminId, { message: opts.message });
      await this.audit.record({
        actor: { type: 'admin', id: by.adminId, label: by.email },
        action: 'device.command_sent',
        target: id,
        details: {
          commandId: cmd.id,
          type,
          userEmail: row.user_email,
          ...(opts.reason ? { reason: opts.reason } : {}),
        },
        ip,
      });
      return presentCommand(cmd);
    }
    return this.revoke(id, row, { type: 'admin', id: by.adminId, label: by.email }, ip, opts.reason);
  }

  /** After a device confirmed a wipe, it is deactivated: certificate revoked, sessions refused. */
  async deactivateAfterWipe(deviceId: string): Promise<void> {
    const row = await this.devices.byId(deviceId);
    if (!row || row.status === 'revoked') return;
    await this.revoke(deviceId, row, { type: 'system', id: null, label: 'wipe completed' }, null, 'wiped');
  }

  /** Revokes a device on the system's behalf (a compliance action); no-op if already revoked. */
  async revokeBySystem(deviceId: string, reason: string): Promise<void> {
    const row = await this.devices.byId(deviceId);
    if (!row || row.status === 'revoked') return;
    await this.revoke(deviceId, row, { type: 'system', id: null, label: 'compliance' }, null, reason);
  }

  private async revoke(
    id: string,
    row: { user_email: string; certificate_serial: string },
    actor: AuditActor,
    ip: string | null,
    reason?: string,
  ) {
    const now = new Date().toISOString();
    const command = {
      id: crypto.randomUUID(),
      device_id: id,
      type: 'revoke',
      state: 'done',
      requested_by: actor.id ?? null,
      created_at: now,
      updated_at: now,
      params: null,
      nonce: null,
      envelope: null,
      signature: null,
      expires_at: null,
      delivered_at: null,
      acknowledged_at: null,
      completed_at: now,
      failure_reason: null,
    };
    await this.devices.revoke(id, now, command);
    this.pki.invalidateCrl();
    this.bus.publish('device.revoked', { deviceId: id });
    await this.audit.record({
      actor,
      action: 'device.revoked',
      target: id,
      details: { userEmail: row.user_email, serial: row.certificate_serial, ...(reason ? { reason } : {}) },
      ip,
    });
    return presentCommand(command);
  }
}
