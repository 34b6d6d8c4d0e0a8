import type { PolicySource } from '@enclave/protocol';
import type { GroupRule } from './policy.repository.js';

/** Which policy wins for one user, before it is presented. */
export interface Resolution {
  policyId: string;
  source: PolicySource;
  explanation: string;
}

const groupLabel = (g: GroupRule) => `${g.groupName} (rank ${g.rank})`;

/**
 * The precedence rule, in one place: a policy assigned directly to the user, else the
 * highest-ranked policy among the user's groups (ties broken by group name, so the answer is
 * stable), else the default policy.
 */
export function resolvePolicy(
  who: string,
  direct: string | undefined,
  groups: readonly GroupRule[],
  defaultPolicyId: string,
): Resolution {
  const ranked = [...groups].sort((a, b) => b.rank - a.rank || a.groupName.localeCompare(b.groupName));
  if (direct !== undefined) {
    const overridden = ranked.length
      ? `; it overrides the group policies of ${ranked.map(groupLabel).join(', ')}`
      : '';
    return {
      policyId: direct,
      source: { kind: 'user' },
      explanation: `assigned directly to ${who}, and a direct assignment beats any group policy${overridden}`,
    };
  }
  const [winner, ...others] = ranked;
  if (winner) {
    const tied = others.filter((g) => g.rank === winner.rank);
    const lower = others.filter((g) => g.rank < winner.rank);
    let why: string;
    if (others.length === 0) why = `the only group of ${who} with a policy`;
    else {
      const parts: string[] = [];
      if (lower.length) parts.push(`outranks ${lower.map(groupLabel).join(', ')}`);
      if (tied.length)
        parts.push(`ties with ${tied.map((g) => g.groupName).join(', ')} and wins by group name`);
      why = parts.join(', and ');
    }
    return {
      policyId: winner.policyId,
      source: { kind: 'group', groupName: winner.groupName, rank: winner.rank },
      explanation: `assigned to group ${groupLabel(winner)}, which ${others.length ? why : `is ${why}`}`,
    };
  }
  return {
    policyId: defaultPolicyId,
    source: { kind: 'default' },
    explanation: `no policy is assigned to ${who} or to any of their groups, so the default policy applies`,
  };
}
