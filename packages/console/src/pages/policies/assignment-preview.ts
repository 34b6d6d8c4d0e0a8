import type { Policy, User } from '@enclave/protocol';

interface GroupRule {
  groupName: string;
  rank: number;
  policyId: string;
}

/**
 * The server's precedence rule (modules/policies/policy.resolve.ts), for a preview only: a direct
 * assignment wins, else the highest-ranked group policy (ties broken by group name), else the default.
 */
function winner(direct: string | undefined, groups: GroupRule[], defaultId: string): string {
  if (direct !== undefined) return direct;
  const ranked = [...groups].sort((a, b) => b.rank - a.rank || a.groupName.localeCompare(b.groupName));
  return ranked[0]?.policyId ?? defaultId;
}

export interface AssignmentPreview {
  /** Members whose effective policy would become this one, with the policy they have now. */
  switching: { user: User; policy: string }[];
  /** Members who have this policy now and would get another one (a lowered rank), with that one. */
  leaving: { user: User; policy: string }[];
  /** Members who keep a direct assignment (it beats groups). */
  keepDirect: number;
  /** Members who keep another group's policy (higher rank, or a tie won by group name). */
  keepOtherGroup: number;
  /** Members who already have this policy. */
  already: number;
  /** The policy the group has now, which this assignment replaces (a group has one policy). */
  replaces: string | null;
}

/**
 * What assigning `policy` to group `groupName` with `rank` would change for the group's members,
 * computed from every policy's assignments. The server decides; this only previews.
 */
export function previewGroupAssignment(
  policy: Policy,
  groupName: string,
  rank: number,
  all: Policy[],
  members: User[],
): AssignmentPreview {
  const names = new Map(all.map((p) => [p.id, p.name]));
  const defaultId = all.find((p) => p.isDefault)?.id ?? '';
  const direct = new Map<string, string>();
  const byGroup = new Map<string, GroupRule>();
  for (const p of all) {
    for (const u of p.assignments.users) direct.set(u.userId, p.id);
    for (const g of p.assignments.groups)
      byGroup.set(g.name, { groupName: g.name, rank: g.rank, policyId: p.id });
  }
  const current = byGroup.get(groupName);
  const out: AssignmentPreview = {
    switching: [],
    leaving: [],
    keepDirect: 0,
    keepOtherGroup: 0,
    already: 0,
    replaces: current && current.policyId !== policy.id ? (names.get(current.policyId) ?? null) : null,
  };
  for (const user of members) {
    const rules = user.groups.flatMap((g) => {
      const r = byGroup.get(g);
      return r ? [r] : [];
    });
    const now = winner(direct.get(user.id), rules, defaultId);
    const next = winner(
      direct.get(user.id),
      [...rules.filter((r) => r.groupName !== groupName), { groupName, rank, policyId: policy.id }],
      defaultId,
    );
    if (now === next) {
      if (now === policy.id) out.already++;
      else if (direct.has(user.id)) out.keepDirect++;
      else out.keepOtherGroup++;
    } else if (next === policy.id)
      out.switching.push({ user, policy: names.get(now) ?? 'the default policy' });
    // A lower rank can hand members back to another group's policy.
    else out.leaving.push({ user, policy: names.get(next) ?? 'the default policy' });
  }
  return out;
}
