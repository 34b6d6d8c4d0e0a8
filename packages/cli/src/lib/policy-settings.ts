import { PolicyDocumentPatchSchema, type PolicyDocumentPatch } from '@enclave/protocol';
import { CliError } from './cli-error.js';

/**
 * Turns `--set KEY=VALUE` flags (and an optional JSON file's settings) into a policy document patch.
 * VALUE is read as JSON when it parses (`8`, `false`, `null`, `["ios"]`), else as a string;
 * `minOsVersion.PLATFORM=VERSION` sets one platform's minimum.
 */
export function settingsPatch(base: Record<string, unknown>, sets: readonly string[]): PolicyDocumentPatch {
  const doc: Record<string, unknown> = { ...base };
  for (const entry of sets) {
    const eq = entry.indexOf('=');
    if (eq <= 0)
      throw new CliError('usage_error', `--set ${entry}: use KEY=VALUE, e.g. --set minPasscodeLength=8`);
    const key = entry.slice(0, eq).trim();
    const raw = entry.slice(eq + 1).trim();
    const [head, sub, ...rest] = key.split('.');
    if (head === 'minOsVersion' && sub && rest.length === 0) {
      // Versions stay text: `17.0` must not become the number 17.
      const prev = doc.minOsVersion;
      doc.minOsVersion = { ...(typeof prev === 'object' && prev !== null ? prev : {}), [sub]: raw };
    } else if (key === 'minClientVersion') doc[key] = raw === 'null' ? null : raw;
    else doc[key] = parseValue(raw);
  }
  const parsed = PolicyDocumentPatchSchema.safeParse(doc);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? issue.path.join('.') : 'settings';
    const msg =
      issue?.code === 'unrecognized_keys'
        ? `unknown setting ${issue.keys.join(', ')}`
        : (issue?.message ?? 'invalid');
    throw new CliError('usage_error', `${where}: ${msg}`);
  }
  return parsed.data;
}

function parseValue(raw: string): unknown {
  try {
    return JSON.parse(raw) as unknown;
  } catch {
    return raw;
  }
}

/** Reads a policy JSON file: either a bare settings object or `{ "document": { … } }`. */
export function settingsFromJson(text: string, path: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new CliError('usage_error', `${path} is not JSON: ${(err as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new CliError('usage_error', `${path} must hold a JSON object of policy settings`);
  const obj = value as Record<string, unknown>;
  const inner = obj.document;
  if (typeof inner === 'object' && inner !== null && !Array.isArray(inner))
    return inner as Record<string, unknown>;
  return obj;
}
