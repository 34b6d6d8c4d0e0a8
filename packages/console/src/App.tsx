import { lazy, Suspense, type ReactNode } from 'react';
import { Navigate, Route, Routes, useLocation } from 'react-router';
import { AdminSessionProvider, useSession } from './auth/session';
import { Shell } from './components/Shell';
import { ToastProvider } from './components';
import { SignInPage } from './pages/signin/SignInPage';
import { DashboardPage } from './pages/dashboard/DashboardPage';
import { NotFoundPage } from './pages/NotFoundPage';

// Pages other than sign-in and the dashboard load on first visit: the first screen downloads less.
const UsersPage = lazy(() => import('./pages/users/UsersPage').then((m) => ({ default: m.UsersPage })));
const UserPage = lazy(() => import('./pages/users/UserPage').then((m) => ({ default: m.UserPage })));
const GroupsPage = lazy(() => import('./pages/users/GroupsPage').then((m) => ({ default: m.GroupsPage })));
const DevicesPage = lazy(() =>
  import('./pages/devices/DevicesPage').then((m) => ({ default: m.DevicesPage })),
);
const DevicePage = lazy(() => import('./pages/devices/DevicePage').then((m) => ({ default: m.DevicePage })));
const AccountPage = lazy(() =>
  import('./pages/account/AccountPage').then((m) => ({ default: m.AccountPage })),
);
const PoliciesPage = lazy(() =>
  import('./pages/policies/PoliciesPage').then((m) => ({ default: m.PoliciesPage })),
);
const PolicyEditorPage = lazy(() =>
  import('./pages/policies/PolicyEditorPage').then((m) => ({ default: m.PolicyEditorPage })),
);
const ApprovalsPage = lazy(() =>
  import('./pages/approvals/ApprovalsPage').then((m) => ({ default: m.ApprovalsPage })),
);
const WebhooksPage = lazy(() =>
  import('./pages/webhooks/WebhooksPage').then((m) => ({ default: m.WebhooksPage })),
);
const AdminsPage = lazy(() => import('./pages/admins/AdminsPage').then((m) => ({ default: m.AdminsPage })));
const AuditPage = lazy(() => import('./pages/audit/AuditPage').then((m) => ({ default: m.AuditPage })));
const SettingsPage = lazy(() =>
  import('./pages/settings/SettingsPage').then((m) => ({ default: m.SettingsPage })),
);
const PortalApp = lazy(() => import('./portal/PortalApp').then((m) => ({ default: m.PortalApp })));

/** Every console route. Pages are plain components; the Shell renders them in <main>. */
export function App() {
  return (
    <ToastProvider>
      <Routes>
        <Route
          path="/portal/*"
          element={
            <Suspense fallback={<p aria-busy="true">Loading…</p>}>
              <PortalApp />
            </Suspense>
          }
        />
        <Route
          path="/*"
          element={
            <AdminSessionProvider>
              <AdminRoutes />
            </AdminSessionProvider>
          }
        />
      </Routes>
    </ToastProvider>
  );
}

function AdminRoutes() {
  return (
    <Routes>
      <Route path="/sign-in" element={<SignInPage />} />
      <Route
        element={
          <RequireAdmin>
            <Shell />
          </RequireAdmin>
        }
      >
        <Route index element={<DashboardPage />} />
        <Route path="users" element={<UsersPage />} />
        <Route path="users/:id" element={<UserPage />} />
        <Route path="groups" element={<GroupsPage />} />
        <Route path="devices" element={<DevicesPage />} />
        <Route path="devices/:id" element={<DevicePage />} />
        <Route path="policies" element={<PoliciesPage />} />
        <Route path="policies/:id" element={<PolicyEditorPage />} />
        <Route path="approvals" element={<ApprovalsPage />} />
        <Route path="webhooks" element={<WebhooksPage />} />
        <Route path="admins" element={<AdminsPage />} />
        <Route path="audit" element={<AuditPage />} />
        <Route path="settings" element={<SettingsPage />} />
        <Route path="account" element={<AccountPage />} />
        <Route path="*" element={<NotFoundPage />} />
      </Route>
    </Routes>
  );
}

/** Signed-out visitors go to /sign-in and come back to where they were going afterwards. */
function RequireAdmin({ children }: { children: ReactNode }) {
  const { admin } = useSession();
  const location = useLocation();
  if (admin === undefined)
    return (
      <div className="signin" aria-busy="true">
        <span className="visually-hidden">Loading…</span>
      </div>
    );
  if (admin === null) {
    const next = location.pathname + location.search;
    return <Navigate to="/sign-in" replace state={{ next }} />;
  }
  return <>{children}</>;
}
