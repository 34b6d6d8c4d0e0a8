import {
  createContext,
  useCallback,
  useContext,
  useEffect,
  useMemo,
  useRef,
  useState,
  type ReactNode,
} from 'react';
import type { Admin, Permission } from '@enclave/protocol';
import { adminCredentials, api, ApiError, onSessionExpired } from '../api/client';
import { roleCan } from './permissions';

export interface AdminSession {
  /** undefined while the first `/auth/me` is in flight; null when signed out. */
  admin: Admin | null | undefined;
  /** Organisation name for the top bar (from /settings when readable, else /info). */
  organization: string;
  /** Why the user is on the sign-in page (session expired, signed out). */
  notice: string | null;
  can: (permission: Permission) => boolean;
  signedIn: (admin: Admin, csrfToken: string) => void;
  signOut: () => Promise<void>;
  refresh: () => Promise<void>;
  setOrganization: (name: string) => void;
}

const Ctx = createContext<AdminSession | null>(null);

export function AdminSessionProvider({ children }: { children: ReactNode }) {
  const [admin, setAdmin] = useState<Admin | null | undefined>(undefined);
  const [notice, setNotice] = useState<string | null>(null);
  const [organization, setOrganization] = useState('');
  const signedInRef = useRef(false);
  signedInRef.current = !!admin;

  const refresh = useCallback(async () => {
    try {
      setAdmin(await api.me());
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) {
        adminCredentials.set(null);
        setAdmin(null);
      } else {
        // Server unreachable: show sign-in with the reason rather than a blank screen.
        setAdmin(null);
        setNotice(e instanceof Error ? e.message : String(e));
      }
    }
  }, []);

  useEffect(() => {
    void refresh();
    return onSessionExpired((who, reason) => {
      if (who !== 'admin') return;
      adminCredentials.set(null);
      // Only someone who was signed in has a session that expired; a first visit just signs in.
      if (signedInRef.current) setNotice(`${reason} Sign in again to continue.`);
      setAdmin(null);
    });
  }, [refresh]);

  useEffect(() => {
    if (!admin) return;
    let cancelled = false;
    const load = async () => {
      try {
        const org = roleCan(admin.role, 'settings:read')
          ? (await api.settings()).organization
          : (await api.info()).organization;
        if (!cancelled) setOrganization(org);
      } catch {
        /* the top bar simply shows no organisation name */
      }
    };
    void load();
    return () => {
      cancelled = true;
    };
  }, [admin]);

  const value = useMemo<AdminSession>(
    () => ({
      admin,
      organization,
      notice,
      can: (p) => roleCan(admin?.role, p),
      signedIn: (a, csrf) => {
        adminCredentials.set(csrf);
        setNotice(null);
        setAdmin(a);
      },
      signOut: async () => {
        try {
          await api.logout();
        } catch {
          /* already gone server-side: still sign out here */
        }
        adminCredentials.set(null);
        setNotice('You signed out.');
        setAdmin(null);
      },
      refresh,
      setOrganization,
    }),
    [admin, organization, notice, refresh],
  );
  return <Ctx.Provider value={value}>{children}</Ctx.Provider>;
}

export function useSession(): AdminSession {
  const s = useContext(Ctx);
  if (!s) throw new Error('useSession outside AdminSessionProvider');
  return s;
}

/** `const can = useCan(); can('devices:wipe')` */
export function useCan(): (permission: Permission) => boolean {
  return useSession().can;
}
