// The policy editor's form model: every setting of a policy document as text inputs, and the
// conversion back to a document the server validates. Kept free of React so it is easy to test.
import type { ComplianceAction, ComplianceRule, PolicyDocument } from '@enclave/protocol';

export type NumberKey =
  | 'minPasscodeLength'
  | 'autoLockMinutes'
  | 'wipeWorkAfterFailedUnlocks'
  | 'maxDaysOutOfContact'
  | 'messageRetentionDays'
  | 'maxAttachmentMb'
  | 'devicesPerUser';
export type BooleanKey =
  | 'passcodeRequired'
  | 'attachmentsAllowed'
  | 'copyPasteAllowed'
  | 'screenshotsAllowed'
  | 'deviceEncryptionRequired'
  | 'rootedAllowed';

export interface NumberField {
  key: NumberKey;
  label: string;
  hint: string;
  min: number;
  max: number;
  unit?: string;
}
export interface BooleanField {
  key: BooleanKey;
  label: string;
  hint: string;
}

/** The settings in the order the editor shows them, grouped like a BES12 IT policy. */
export const SECTIONS: { title: string; numbers: NumberField[]; booleans: BooleanField[] }[] = [
  {
    title: 'Passcode and lock',
    booleans: [
      { key: 'passcodeRequired', label: 'Passcode required', hint: 'The device must have a passcode set.' },
    ],
    numbers: [
      {
        key: 'minPasscodeLength',
        label: 'Minimum passcode length',
        hint: '4 to 64 characters.',
        min: 4,
        max: 64,
      },
      {
        key: 'autoLockMinutes',
        label: 'Auto-lock after',
        hint: 'Idle minutes before the work space locks (1 to 1440).',
        min: 1,
        max: 1440,
        unit: 'min',
      },
      {
        key: 'wipeWorkAfterFailedUnlocks',
        label: 'Wipe work data after failed unlocks',
        hint: 'Failed unlocks in a row; 0 never wipes.',
        min: 0,
        max: 100,
      },
    ],
  },
  {
    title: 'Device security',
    booleans: [
      {
        key: 'deviceEncryptionRequired',
        label: 'Encrypted storage required',
        hint: 'The device must report encrypted storage.',
      },
      {
        key: 'rootedAllowed',
        label: 'Rooted or jailbroken devices allowed',
        hint: 'Off for most organisations.',
      },
    ],
    numbers: [
      {
        key: 'devicesPerUser',
        label: 'Devices per user',
        hint: 'Most active devices one user may hold (1 to 50).',
        min: 1,
        max: 50,
      },
      {
        key: 'maxDaysOutOfContact',
        label: 'Out of contact after',
        hint: 'Days without contact before a device is out of contact; 0 never.',
        min: 0,
        max: 3650,
        unit: 'days',
      },
    ],
  },
  {
    title: 'Messaging and data',
    booleans: [
      {
        key: 'attachmentsAllowed',
        label: 'Attachments allowed',
        hint: 'Attachments may be sent and received.',
      },
      {
        key: 'copyPasteAllowed',
        label: 'Copy and paste out of the work space',
        hint: 'Enforced by the client.',
      },
      { key: 'screenshotsAllowed', label: 'Screenshots of the work space', hint: 'Enforced by the client.' },
    ],
    numbers: [
      {
        key: 'messageRetentionDays',
        label: 'Message retention',
        hint: 'Messages disappear from devices after this many days; 0 keeps them.',
        min: 0,
        max: 3650,
        unit: 'days',
      },
      {
        key: 'maxAttachmentMb',
        label: 'Largest attachment',
        hint: '1 to 100 MB (the server’s own limit still applies).',
        min: 1,
        max: 100,
        unit: 'MB',
      },
    ],
  },
];

export const COMPLIANCE_RULE_LABELS: Record<ComplianceRule, string> = {
  os_version_below_minimum: 'OS version below the minimum',
  client_version_below_minimum: 'Enclave client below the minimum',
  platform_not_allowed: 'Platform not allowed',
  passcode_not_set: 'No passcode set',
  storage_not_encrypted: 'Storage not encrypted',
  device_rooted: 'Rooted or jailbroken',
  out_of_contact: 'Out of contact',
};

export const COMPLIANCE_ACTION_LABELS: Record<ComplianceAction, string> = {
  notify: 'Notify only',
  block_messaging: 'Block messaging',
  quarantine: 'Quarantine',
  wipe_work: 'Wipe work data',
  revoke: 'Revoke the device',
};

/** The editable form: numbers as text so a half-typed value is not lost. */
export interface PolicyForm {
  name: string;
  description: string;
  numbers: Record<NumberKey, string>;
  booleans: Record<BooleanKey, boolean>;
  minClientVersion: string;
  /** Comma-separated platform names; empty allows any. */
  allowedPlatforms: string;
  /** One row per platform minimum. */
  minOsVersion: { platform: string; version: string }[];
  /** Per rule: '' keeps the default, else the action and its grace minutes. */
  complianceActions: Record<ComplianceRule, { action: ComplianceAction | ''; graceMinutes: string }>;
}

export function formFromPolicy(name: string, description: string, doc: PolicyDocument): PolicyForm {
  const numbers = {} as Record<NumberKey, string>;
  const booleans = {} as Record<BooleanKey, boolean>;
  for (const s of SECTIONS) {
    for (const f of s.numbers) numbers[f.key] = String(doc[f.key]);
    for (const f of s.booleans) booleans[f.key] = doc[f.key];
  }
  const complianceActions = {} as PolicyForm['complianceActions'];
  for (const rule of Object.keys(COMPLIANCE_RULE_LABELS) as ComplianceRule[]) {
    const set = doc.complianceActions[rule];
    complianceActions[rule] = set
      ? { action: set.action, graceMinutes: String(set.graceMinutes) }
      : { action: '', graceMinutes: '' };
  }
  return {
    name,
    description,
    numbers,
    booleans,
    minClientVersion: doc.minClientVersion ?? '',
    allowedPlatforms: (doc.allowedPlatforms ?? []).join(', '),
    minOsVersion: Object.entries(doc.minOsVersion).map(([platform, version]) => ({ platform, version })),
    complianceActions,
  };
}

/** A number field's text as a number, or the text itself so the server names the mistake. */
function asNumber(text: string): number | string {
  const t = text.trim();
  return /^-?\d+$/.test(t) ? Number(t) : t;
}

/**
 * The document the form describes. Values are passed through even when wrong (a letter in a number
 * field): the server's validation names each mistake and the editor shows it next to its field.
 */
export function documentFromForm(form: PolicyForm): Record<string, unknown> {
  const doc: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(form.numbers)) doc[k] = asNumber(v);
  for (const [k, v] of Object.entries(form.booleans)) doc[k] = v;
  doc.minClientVersion = form.minClientVersion.trim() === '' ? null : form.minClientVersion.trim();
  const platforms = form.allowedPlatforms
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  doc.allowedPlatforms = platforms.length === 0 ? null : platforms;
  doc.minOsVersion = Object.fromEntries(
    form.minOsVersion
      .filter((r) => r.platform.trim() !== '' || r.version.trim() !== '')
      .map((r) => [r.platform.trim(), r.version.trim()]),
  );
  const actions: Record<string, unknown> = {};
  for (const [rule, v] of Object.entries(form.complianceActions))
    if (v.action !== '') actions[rule] = { action: v.action, graceMinutes: asNumber(v.graceMinutes || '0') };
  doc.complianceActions = actions;
  return doc;
}

/**
 * The server's validation details keyed by form field: `body.document.minPasscodeLength` →
 * `minPasscodeLength`, `body.name` → `name`, `body.document.minOsVersion.ios` → `minOsVersion`.
 */
export function fieldErrors(
  details: { path: string; message: string }[] | undefined,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const d of details ?? []) {
    const parts = d.path.split('.');
    if (parts[0] === 'body') parts.shift();
    if (parts[0] === 'document') parts.shift();
    let key = parts[0] ?? '';
    // One message per compliance rule; everything else per setting.
    if (key === 'complianceActions' && parts[1]) key = `complianceActions.${parts[1]}`;
    if (key === '') continue;
    out[key] = out[key] ? `${out[key]}; ${d.message}` : d.message;
  }
  return out;
}
