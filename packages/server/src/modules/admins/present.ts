import type { Admin, Role } from '@enclave/protocol';
import type { AdminRow } from './admin.repository.js';

export function presentAdmin(row: AdminRow): Admin {
  return {
    id: row.id,
    email: row.email,
    role: row.role as Role,
    totpEnabled: row.totp_enabled === 1,
    createdAt: row.created_at,
  };
}
