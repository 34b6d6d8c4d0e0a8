import type { CommandState, CommandType, ComplianceReason, Device } from '@enclave/protocol';
import type { CommandRow, DeviceRow } from './device.repository.js';

/** The reasons stored by the compliance module on the device row (a JSON array). */
export function complianceReasonsOf(row: { compliance_reasons?: string }): ComplianceReason[] {
  try {
    const v = JSON.parse(row.compliance_reasons ?? '[]') as unknown;
    return Array.isArray(v) ? (v as ComplianceReason[]) : [];
  } catch {
    return [];
  }
}

export function presentDevice(row: DeviceRow & { user_email: string }): Device {
  return {
    id: row.id,
    userId: row.user_id,
    userEmail: row.user_email,
    name: row.name,
    platform: row.platform,
    clientVersion: row.client_version,
    status: row.status as Device['status'],
    // Until a device has been evaluated (module compliance) it is unknown.
    compliance: (row.compliance ?? 'unknown') as Device['compliance'],
    complianceReasons: complianceReasonsOf(row),
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
