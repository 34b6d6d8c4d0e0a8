import type { ReactNode } from 'react';
import { Navigate, Route, Routes, useLocation } from 'react-router';
import { AdminSessionProvider, useSession } from './auth/session';
import { Shell } from './components/Shell';
import { ToastProvider } from './components';
import { SignInPage } from './pages/signin/SignInPage';
import { DashboardPage } from './pages/dashboard/DashboardPage';
import { UsersPage } from './pages/users/UsersPage';
import { UserPage } from './pages/users/UserPage';
import { GroupsPage } from './pages/users/GroupsPage';
import { DevicesPage } from './pages/devices/DevicesPage';
import { DevicePage } from './pages/devices/DevicePage';
import { AccountPage } from './pages/account/AccountPage';
import { NotFoundPage } from './pages/NotFoundPage';
import { PoliciesPage } from './pages/policies/PoliciesPage';
import { PolicyEditorPage } from './pages/policies/PolicyEditorPage';
import { ApprovalsPage } from './pages/approvals/ApprovalsPage';
import { WebhooksPage } from './pages/webhooks/WebhooksPage';
import { AdminsPage } from './pages/admins/AdminsPage';
import { AuditPage } from './pages/audit/AuditPage';
import { SettingsPage } from './pages/settings/SettingsPage';
import { PortalApp } from './portal/PortalApp';

/** Every console route. Pages are plain components; the Shell renders them in <main>. */
export function App() {
  return (
    <ToastProvider>
      <Routes>
        <Route path="/portal/*" element={<PortalApp />} />
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
