import { type AuditEntry, type Dashboard, roleHasPermission } from '@enclave/protocol';
import type { AdminPrincipal } from '../../platform/http/route.js';
import type { AuditService } from '../audit/index.js';
import type { DashboardRepository } from './dashboard.repository.js';

const DAY_MS = 86_400_000;

/** The fleet at a glance: every figure is computed from live data on each call. */
export class DashboardService {
  /** Devices with an open stream now (this node's hub today; the cluster's figure once wired). */
  connectedNow: () => number = () => 0;

  constructor(
    private readonly repo: DashboardRepository,
    private readonly audit: AuditService,
  ) {}

  async get(by: AdminPrincipal, now = new Date()): Promise<Dashboard> {
    const iso = (ms: number) => new Date(now.getTime() + ms).toISOString();
    const today = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
    const firstDay = today - 29 * DAY_MS;
    const [users, groups, os, reasons, perDay, commands, activations, messages24h, recentAudit] =
      await Promise.all([
        this.repo.users(),
        this.repo.deviceGroups(iso(30 * DAY_MS)),
        this.repo.osVersions(10),
        this.repo.reasons(),
        this.repo.activationsPerDay(new Date(firstDay).toISOString()),
        this.repo.commands(iso(-DAY_MS)),
        this.repo.activations(now.toISOString(), iso(DAY_MS)),
        this.repo.messages(iso(-DAY_MS)),
        roleHasPermission(by.role, 'audit:read')
          ? this.audit.latest(10)
          : Promise.resolve([] as AuditEntry[]),
      ]);

    const active = groups.filter((g) => g.status === 'active');
    const sum = (rows: typeof groups) => rows.reduce((a, g) => a + g.count, 0);
    const byCompliance = (c: string) => sum(active.filter((g) => g.compliance === c));
    const platforms = new Map<string, number>();
    for (const g of active) platforms.set(g.platform, (platforms.get(g.platform) ?? 0) + g.count);

    return {
      generatedAt: now.toISOString(),
      users,
      devices: {
        total: sum(groups),
        active: sum(active),
        pendingActivation: activations.live,
        nonCompliant: byCompliance('non-compliant'),
        revoked: sum(groups.filter((g) => g.status === 'revoked')),
        connectedNow: this.connectedNow(),
      },
      platforms: [...platforms]
        .map(([platform, count]) => ({ platform, count }))
        .sort((a, b) => b.count - a.count || a.platform.localeCompare(b.platform)),
      osVersions: os,
      compliance: {
        compliant: byCompliance('compliant'),
        warning: byCompliance('warning'),
        nonCompliant: byCompliance('non-compliant'),
        unknown: byCompliance('unknown'),
        topReasons: reasons
          .filter((r) => r.count > 0)
          .sort((a, b) => b.count - a.count || a.rule.localeCompare(b.rule))
          .slice(0, 5),
      },
      activationsPerDay: Array.from({ length: 30 }, (_, i) => {
        const date = new Date(firstDay + i * DAY_MS).toISOString().slice(0, 10);
        return { date, count: perDay.get(date) ?? 0 };
      }),
      commands,
      messages24h,
      expiring: {
        certificates30d: active.reduce((a, g) => a + g.expiring, 0),
        activationPasswords24h: activations.expiringSoon,
      },
      recentAudit,
    };
  }
}
