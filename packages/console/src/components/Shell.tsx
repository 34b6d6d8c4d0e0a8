import { Suspense, useEffect, useRef, useState } from 'react';
import { NavLink, Outlet, useLocation } from 'react-router';
import type { Permission } from '@enclave/protocol';
import { useSession } from '../auth/session';
import { ROLE_LABELS } from '../auth/permissions';
import { Button } from './Button';

interface NavItem {
  to: string;
  label: string;
  icon: string;
  permission?: Permission;
}
const SECTIONS: { title: string; items: NavItem[] }[] = [
  {
    title: 'Fleet',
    items: [
      {
        to: '/',
        label: 'Dashboard',
        icon: 'M3 13h8V3H3zm0 8h8v-6H3zm10 0h8V11h-8zm0-18v6h8V3z',
        permission: 'devices:read',
      },
      {
        to: '/users',
        label: 'Users & groups',
        icon: 'M16 11a4 4 0 1 0-4-4 4 4 0 0 0 4 4zM8 11a3 3 0 1 0-3-3 3 3 0 0 0 3 3zm0 2c-2.3 0-7 1.2-7 3.5V19h7v-2.5c0-.9.4-2.3 2.5-3.3A11 11 0 0 0 8 13zm8 0c-2.7 0-8 1.3-8 4v2h16v-2c0-2.7-5.3-4-8-4z',
        permission: 'users:read',
      },
      {
        to: '/devices',
        label: 'Devices',
        icon: 'M17 1H7a2 2 0 0 0-2 2v18a2 2 0 0 0 2 2h10a2 2 0 0 0 2-2V3a2 2 0 0 0-2-2zm0 18H7V5h10z',
        permission: 'devices:read',
      },
      {
        to: '/policies',
        label: 'Policies',
        icon: 'M12 1 3 5v6c0 5.5 3.8 10.7 9 12 5.2-1.3 9-6.5 9-12V5z',
        permission: 'policies:read',
      },
      {
        to: '/approvals',
        label: 'Approvals',
        icon: 'M9 16.2 4.8 12l-1.4 1.4L9 19 21 7l-1.4-1.4z',
        permission: 'devices:read',
      },
    ],
  },
  {
    title: 'Administration',
    items: [
      {
        to: '/admins',
        label: 'Administrators',
        icon: 'M12 12a5 5 0 1 0-5-5 5 5 0 0 0 5 5zm0 2c-3.3 0-10 1.7-10 5v3h20v-3c0-3.3-6.7-5-10-5z',
        permission: 'admins:read',
      },
      {
        to: '/audit',
        label: 'Audit log',
        icon: 'M14 2H6a2 2 0 0 0-2 2v16a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2V8zm2 16H8v-2h8zm0-4H8v-2h8zm-3-5V3.5L18.5 9z',
        permission: 'audit:read',
      },
      {
        to: '/webhooks',
        label: 'Webhooks',
        icon: 'M10 15h5.9a3 3 0 1 1 0 2H12a5 5 0 1 1-6.6-4.7l.6 2A3 3 0 1 0 10 17zm-1.5-3.6a5 5 0 1 1 8.9-3.9l-2 .4a3 3 0 1 0-5.2 2.4L13 15h-2.3z',
        permission: 'webhooks:read',
      },
      {
        to: '/settings',
        label: 'Settings',
        icon: 'M19.4 13a7.5 7.5 0 0 0 0-2l2.1-1.6-2-3.5-2.5 1a7.6 7.6 0 0 0-1.7-1L15 3h-4l-.4 2.6a7.6 7.6 0 0 0-1.7 1l-2.5-1-2 3.5L6.6 11a7.5 7.5 0 0 0 0 2l-2.1 1.6 2 3.5 2.5-1a7.6 7.6 0 0 0 1.7 1L11 21h4l.4-2.6a7.6 7.6 0 0 0 1.7-1l2.5 1 2-3.5zM13 15.5a3.5 3.5 0 1 1 3.5-3.5 3.5 3.5 0 0 1-3.5 3.5z',
        permission: 'settings:read',
      },
    ],
  },
];

function Icon({ d }: { d: string }) {
  return (
    <svg width="18" height="18" viewBox="0 0 24 24" fill="currentColor" aria-hidden="true" focusable="false">
      <path d={d} />
    </svg>
  );
}

export function Logo() {
  return (
    <svg width="24" height="24" viewBox="0 0 32 32" aria-hidden="true" focusable="false">
      <rect width="32" height="32" rx="7" fill="#1f4fd1" />
      <path d="M16 6l8 3v6c0 5-3.4 9.2-8 11-4.6-1.8-8-6-8-11V9z" fill="#fff" />
    </svg>
  );
}

/** Sidebar + top bar + <main>. Below 900 px the sidebar becomes a menu behind a button. */
export function Shell() {
  const { admin, organization, can, signOut } = useSession();
  const [menuOpen, setMenuOpen] = useState(false);
  const location = useLocation();
  const mainRef = useRef<HTMLElement>(null);
  const first = useRef(true);

  useEffect(() => {
    setMenuOpen(false);
    // Move focus to the new page for keyboard and screen-reader users (not on the first load).
    if (first.current) first.current = false;
    else mainRef.current?.focus({ preventScroll: true });
  }, [location.pathname]);

  if (!admin) return null;
  return (
    <div className={`shell${menuOpen ? ' menu-open' : ''}`}>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <aside className="sidebar" id="sidebar">
        <NavLink to="/" className="brand" aria-label="Enclave dashboard">
          <Logo />
          Enclave
        </NavLink>
        <nav className="nav" aria-label="Main">
          {SECTIONS.map((s) => {
            const items = s.items.filter((i) => !i.permission || can(i.permission));
            if (items.length === 0) return null;
            return (
              <div key={s.title}>
                <div className="nav-section" aria-hidden="true">
                  {s.title}
                </div>
                <ul>
                  {items.map((i) => (
                    <li key={i.to}>
                      <NavLink to={i.to} end={i.to === '/'}>
                        <Icon d={i.icon} />
                        {i.label}
                      </NavLink>
                    </li>
                  ))}
                </ul>
              </div>
            );
          })}
          <div className="nav-section" aria-hidden="true">
            You
          </div>
          <ul>
            <li>
              <NavLink to="/account">
                <Icon d="M12 1a5 5 0 0 0-5 5v4H5v13h14V10h-2V6a5 5 0 0 0-5-5zm-3 9V6a3 3 0 0 1 6 0v4z" />
                Account security
              </NavLink>
            </li>
          </ul>
        </nav>
      </aside>
      <header className="topbar">
        <Button
          variant="ghost"
          className="menu-button"
          aria-expanded={menuOpen}
          aria-controls="sidebar"
          onClick={() => setMenuOpen((o) => !o)}
        >
          <Icon d="M3 6h18v2H3zm0 5h18v2H3zm0 5h18v2H3z" />
          Menu
        </Button>
        <span className="org" data-testid="org-name">
          {organization}
        </span>
        <span className="spacer" />
        <div className="who">
          <div className="email" data-testid="admin-email">
            {admin.email}
          </div>
          <div className="role" data-testid="admin-role">
            {ROLE_LABELS[admin.role]}
          </div>
        </div>
        <Button size="small" onClick={() => void signOut()}>
          Sign out
        </Button>
      </header>
      <main className="content" id="main" tabIndex={-1} ref={mainRef}>
        <Suspense fallback={<p aria-busy="true">Loading…</p>}>
          <Outlet />
        </Suspense>
      </main>
    </div>
  );
}
