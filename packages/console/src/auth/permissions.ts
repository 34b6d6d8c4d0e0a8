import { type Permission, type Role, roleHasPermission } from '@enclave/protocol';

/** Human names of the built-in roles, as the console shows them. */
export const ROLE_LABELS: Record<Role, string> = {
  'security-admin': 'Security Administrator',
  'enterprise-admin': 'Enterprise Administrator',
  'senior-helpdesk': 'Senior Helpdesk',
  'junior-helpdesk': 'Junior Helpdesk',
  auditor: 'Auditor',
};

/**
 * `can(role, 'devices:wipe')` — from the same permission table the server enforces
 * (ROLE_PERMISSIONS in @enclave/protocol). The console hides what this forbids; the server still refuses it.
 */
export function roleCan(role: Role | undefined, permission: Permission): boolean {
  return role !== undefined && roleHasPermission(role, permission);
}
