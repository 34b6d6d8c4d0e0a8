import type { ComplianceRule, PolicyDocument, PostureReport } from '@enclave/protocol';

/** One broken rule, before grace periods and actions are applied. */
export interface Finding {
  code: ComplianceRule;
  message: string;
}

const DAY_MS = 24 * 60 * 60_000;

/**
 * Compares two dotted versions numerically, segment by segment (`10.2` > `9.10`); a missing
 * segment counts as 0 and a pre-release or build suffix (`-beta.1`, `+7`) is ignored.
 */
export function compareVersions(a: string, b: string): number {
  const parts = (v: string) =>
    (v.split(/[-+]/, 1)[0] ?? '').split('.').map((s) => Number.parseInt(s, 10) || 0);
  const pa = parts(a);
  const pb = parts(b);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

/**
 * Evaluates the policy's rules against what the device last reported. Without a posture report only
 * the contact rule can be judged.
 */
export function evaluateRules(input: {
  posture: PostureReport | undefined;
  policy: PolicyDocument;
  lastContactAt: string | null;
  now: Date;
}): Finding[] {
  const { posture, policy, now } = input;
  const out: Finding[] = [];
  if (posture) {
    if (policy.allowedPlatforms && !policy.allowedPlatforms.includes(posture.platform))
      out.push({ code: 'platform_not_allowed', message: `the platform ${posture.platform} is not allowed` });
    const minOs = policy.minOsVersion[posture.platform];
    if (minOs && compareVersions(posture.osVersion, minOs) < 0)
      out.push({
        code: 'os_version_below_minimum',
        message: `OS ${posture.osVersion} is below the minimum ${minOs} for ${posture.platform}`,
      });
    if (policy.minClientVersion && compareVersions(posture.clientVersion, policy.minClientVersion) < 0)
      out.push({
        code: 'client_version_below_minimum',
        message: `client ${posture.clientVersion} is below the minimum ${policy.minClientVersion}`,
      });
    if (policy.passcodeRequired && !posture.passcodeSet)
      out.push({ code: 'passcode_not_set', message: 'the policy requires a passcode' });
    if (policy.deviceEncryptionRequired && !posture.storageEncrypted)
      out.push({ code: 'storage_not_encrypted', message: 'the policy requires encrypted storage' });
    if (!policy.rootedAllowed && posture.rooted)
      out.push({ code: 'device_rooted', message: 'rooted or jailbroken devices are not allowed' });
  }
  if (policy.maxDaysOutOfContact > 0 && input.lastContactAt) {
    const days = (now.getTime() - Date.parse(input.lastContactAt)) / DAY_MS;
    if (days > policy.maxDaysOutOfContact)
      out.push({
        code: 'out_of_contact',
        message: `no contact for ${Math.floor(days)} days (the policy allows ${policy.maxDaysOutOfContact})`,
      });
  }
  return out;
}
