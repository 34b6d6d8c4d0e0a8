import { z } from 'zod';

/** Built-in administrator roles, from most to least powerful. */
export const ROLES = [
  'security-admin',
  'enterprise-admin',
  'senior-helpdesk',
  'junior-helpdesk',
  'auditor',
] as const;
export const RoleSchema = z.enum(ROLES);
export type Role = z.infer<typeof RoleSchema>;

/** Every permission an administrator route can require. */
export const PERMISSIONS = [
  'admins:read',
  'admins:manage',
  'users:read',
  'users:write',
  'groups:read',
  'groups:write',
  'activations:create',
  'devices:read',
  'devices:lock',
  'devices:wipe',
  'devices:revoke',
  'audit:read',
  'settings:read',
  'settings:write',
  'webhooks:read',
  'webhooks:manage',
  'policies:read',
  'policies:write',
  'approvals:decide',
] as const;
export type Permission = (typeof PERMISSIONS)[number];

/**
 * The permission table — the only place that says what a role may do. The server enforces it,
 * the console hides what it forbids, and the role-matrix test walks every route against it.
 */
export const ROLE_PERMISSIONS: Readonly<Record<Role, readonly Permission[]>> = {
  'security-admin': PERMISSIONS,
  // Everything but managing administrators and roles, which stays with the Security Administrator.
  'enterprise-admin': PERMISSIONS.filter((p) => p !== 'admins:manage'),
  'senior-helpdesk': [
    'users:read',
    'users:write',
    'groups:read',
    'activations:create',
    'devices:read',
    'devices:lock',
    'devices:wipe',
    'devices:revoke',
    'approvals:decide',
  ],
  // Locks a lost phone; cannot wipe or revoke.
  'junior-helpdesk': ['users:read', 'groups:read', 'activations:create', 'devices:read', 'devices:lock'],
  auditor: [
    'admins:read',
    'users:read',
    'groups:read',
    'devices:read',
    'audit:read',
    'settings:read',
    'webhooks:read',
    'policies:read',
  ],
};

/** True when `role` holds `permission`. */
export function roleHasPermission(role: Role, permission: Permission): boolean {
  return ROLE_PERMISSIONS[role].includes(permission);
}

/** True when every permission of `target` is also held by `granter` (no one grants what they lack). */
export function canGrantRole(granter: Role, target: Role): boolean {
  return ROLE_PERMISSIONS[target].every((p) => roleHasPermission(granter, p));
}
