import { roleHasPermission } from '@enclave/protocol';
import type { Bus } from '../../platform/bus/bus.js';
import { AppError, forbidden, notFound } from '../../platform/http/app-error.js';
import type { AdminPrincipal } from '../../platform/http/route.js';
import { actorOf } from '../admins/index.js';
import type { AuditService } from '../audit/index.js';
import type { PkiService } from '../pki/index.js';
import type { DeviceRepository } from './device.repository.js';
import { presentCommand, presentDevice } from './present.js';

/** The device inventory and the commands administrators send to devices. */
export class DeviceService {
  constructor(
    private readonly devices: DeviceRepository,
    private readonly pki: PkiService,
    private readonly audit: AuditService,
    private readonly bus: Bus,
  ) {}

  async list(q: {
    q?: string | undefined;
    status?: string | undefined;
    userId?: string | undefined;
    limit: number;
    offset: number;
  }) {
    const { rows, total } = await this.devices.page(q);
    return { items: rows.map(presentDevice), total, limit: q.limit, offset: q.offset };
  }

  async get(id: string) {
    const row = await this.devices.byId(id);
    if (!row) throw notFound('device');
    const commands = await this.devices.commands(id);
    return { ...presentDevice(row), certificate: row.certificate, commands: commands.map(presentCommand) };
  }

  async command(
    id: string,
    type: 'lock' | 'unlock' | 'wipe-work' | 'wipe' | 'revoke',
    by: AdminPrincipal,
    ip: string,
    reason?: string,
  ) {
    if (type !== 'revoke') {
      throw new AppError(
        400,
        'command_not_supported',
        `the ${type} command is not available on this server version yet; revoke is`,
      );
    }
    if (!roleHasPermission(by.role, 'devices:revoke'))
      throw forbidden(`the ${by.role} role does not have the devices:revoke permission`);
    const row = await this.devices.byId(id);
    if (!row) throw notFound('device');
    if (row.status === 'revoked') throw new AppError(409, 'conflict', 'the device is already revoked');
    const now = new Date().toISOString();
    const command = {
      id: crypto.randomUUID(),
      device_id: id,
      type,
      state: 'done',
      requested_by: by.adminId,
      created_at: now,
      updated_at: now,
    };
    await this.devices.revoke(id, now, command);
    this.pki.invalidateCrl();
    this.bus.publish('device.revoked', { deviceId: id });
    await this.audit.record({
      actor: actorOf(by),
      action: 'device.revoked',
      target: id,
      details: { userEmail: row.user_email, serial: row.certificate_serial, ...(reason ? { reason } : {}) },
      ip,
    });
    return presentCommand(command);
  }
}
