import type { CommandState, CommandType, Device } from '@enclave/protocol';
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
  let message: string | null = null;
  try {
    message = (JSON.parse(row.params ?? '{}') as { message?: string }).message ?? null;
  } catch {
    message = null;
  }
  return {
    commandId: row.id,
    type: row.type as CommandType,
    state: row.state as CommandState,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    message,
    reason: row.failure_reason,
    deliveredAt: row.delivered_at,
    acknowledgedAt: row.acknowledged_at,
    completedAt: row.completed_at,
    expiresAt: row.expires_at,
  };
}
