import { type Permission, PERMISSIONS, ROLE_PERMISSIONS, ROLES } from '@enclave/protocol';
import { ROLE_LABELS } from '../../auth/permissions';

/** What each permission lets an administrator do, in the console's words. */
const PERMISSION_LABELS: Partial<Record<Permission, string>> = {
  'admins:read': 'See administrators',
  'admins:manage': 'Add, change and remove administrators',
  'users:read': 'See users',
  'users:write': 'Create, edit, import and delete users',
  'groups:read': 'See groups',
  'groups:write': 'Create, edit and delete groups',
  'activations:create': 'Create activation passwords',
  'devices:read': 'See devices, commands and approvals',
  'devices:lock': 'Lock, unlock and ping devices',
  'devices:wipe': 'Wipe devices (work data or full)',
  'devices:revoke': 'Revoke devices',
  'audit:read': 'Read and export the audit log',
  'settings:read': 'See settings and certificates',
  'settings:write': 'Change settings',
  'webhooks:read': 'See webhooks and deliveries',
  'webhooks:manage': 'Add, change and delete webhooks',
  'policies:read': 'See IT policies',
  'policies:write': 'Create, change, assign and delete IT policies',
  'approvals:decide': 'Approve or deny guarded commands',
};

/** The permission table of @enclave/protocol (the one the server enforces) as a matrix. */
export function RoleMatrix() {
  return (
    <section className="card section-gap" aria-labelledby="role-matrix">
      <h2 id="role-matrix">Roles and permissions</h2>
      <p className="muted small">
        Built-in roles, from most to least powerful. Deciding an approval also needs the command’s own
        permission.
      </p>
      <div className="table-wrap flat" role="region" aria-label="Roles and permissions" tabIndex={0}>
        <table className="data matrix" data-testid="role-matrix">
          <caption className="visually-hidden">Which role holds which permission</caption>
          <thead>
            <tr>
              <th scope="col">Permission</th>
              {ROLES.map((r) => (
                <th scope="col" key={r} className="center">
                  {ROLE_LABELS[r]}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {PERMISSIONS.map((p) => (
              <tr key={p}>
                <th scope="row" className="plain-th">
                  {PERMISSION_LABELS[p] ?? p}
                  <div className="mono muted">{p}</div>
                </th>
                {ROLES.map((r) => {
                  const has = ROLE_PERMISSIONS[r].includes(p);
                  return (
                    <td key={r} className="center">
                      {has ? (
                        <span className="yes" aria-label="Yes" role="img">
                          ✓
                        </span>
                      ) : (
                        <span className="no" aria-label="No" role="img">
                          –
                        </span>
                      )}
                    </td>
                  );
                })}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
