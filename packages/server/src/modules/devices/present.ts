import type { Device } from '@enclave/protocol';
import type { CommandRow, DeviceRow } from './device.repository.js';

export function presentDevice(row: DeviceRow & { user_email: string }): Device {
  return {
    id: row.id,
    userId: row.user_id,
    userEmail: row.user_email,
    name: row.name,
    platform: row.platform,
    clientVersion: row.client_version,
    status: row.status as Device['status'],
    // Compliance rules arrive with device management; until a device has been evaluated it is unknown.
    compliance: 'unknown',
    certificateSerial: row.certificate_serial,
    certificateNotAfter: row.certificate_not_after,
    activatedAt: row.activated_at,
    lastContactAt: row.last_contact_at,
    revokedAt: row.revoked_at,
  };
}

export function presentCommand(row: CommandRow) {
  return {
    commandId: row.id,
    type: row.type as 'lock' | 'unlock' | 'wipe-work' | 'wipe' | 'revoke',
    state: row.state as 'queued' | 'delivered' | 'acknowledged' | 'done' | 'failed' | 'expired',
    createdAt: row.created_at,
  };
}
