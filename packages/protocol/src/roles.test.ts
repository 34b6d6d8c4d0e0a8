import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canGrantRole, PERMISSIONS, ROLE_PERMISSIONS, ROLES, roleHasPermission } from './roles.js';

describe('the permission table', () => {
  it('gives the Security Administrator every permission and only it admins:manage', () => {
    for (const p of PERMISSIONS) assert.ok(roleHasPermission('security-admin', p), p);
    for (const r of ROLES) assert.equal(roleHasPermission(r, 'admins:manage'), r === 'security-admin', r);
  });

  it('keeps the Auditor read-only', () => {
    for (const p of ROLE_PERMISSIONS.auditor) assert.match(p, /:read$/);
    assert.ok(roleHasPermission('auditor', 'audit:read'));
  });

  it('gives a Junior Helpdesk strictly less than a Senior Helpdesk', () => {
    for (const p of ROLE_PERMISSIONS['junior-helpdesk'])
      assert.ok(roleHasPermission('senior-helpdesk', p), p);
    assert.ok(!roleHasPermission('junior-helpdesk', 'devices:revoke'));
    assert.ok(roleHasPermission('senior-helpdesk', 'devices:revoke'));
  });

  it('lets nobody grant a role with permissions they lack', () => {
    for (const granter of ROLES) {
      for (const target of ROLES) {
        const lacks = ROLE_PERMISSIONS[target].some((p) => !ROLE_PERMISSIONS[granter].includes(p));
        assert.equal(canGrantRole(granter, target), !lacks, `${granter} → ${target}`);
      }
    }
    assert.equal(canGrantRole('enterprise-admin', 'security-admin'), false);
    assert.equal(canGrantRole('auditor', 'junior-helpdesk'), false);
    assert.equal(canGrantRole('security-admin', 'auditor'), true);
  });
});
