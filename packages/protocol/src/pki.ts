import { z } from 'zod';

export const CaInfoSchema = z.object({
  caFingerprint: z.string(),
  chain: z.array(z.string()),
  organization: z.string(),
});
export const ServerInfoSchema = z.object({
  name: z.literal('enclave'),
  version: z.string(),
  organization: z.string(),
  caFingerprint: z.string(),
  setupRequired: z.boolean(),
});
