import { z } from 'zod';

/**
 * Every stable error code the API can answer with. Clients branch on these, never on messages.
 * Adding a code is fine; renaming one is a breaking change.
 */
export const ERROR_CODES = [
  'bad_request',
  'invalid_json',
  'validation_failed',
  'body_too_large',
  'unsupported_media_type',
  'not_found',
  'method_not_allowed',
  'unauthenticated',
  'session_expired',
  'csrf_failed',
  'forbidden',
  'invalid_credentials',
  'invitation_invalid',
  'totp_required',
  'totp_invalid',
  'totp_not_enrolled',
  'login_throttled',
  'setup_code_invalid',
  'setup_already_done',
  'conflict',
  'email_taken',
  'group_name_taken',
  'group_not_found',
  'user_not_found',
  'user_has_devices',
  'command_not_supported',
  'stale_epoch',
  'membership_pending',
  'not_a_member',
  'recipient_has_no_devices',
  'conversation_not_found',
  'message_too_large',
  'key_packages_exhausted',
  'last_security_admin',
  'role_not_grantable',
  'activation_password_wrong',
  'activation_expired',
  'activation_used',
  'activation_locked',
  'activation_limit',
  'activation_session_invalid',
  'csr_invalid',
  'device_limit_reached',
  'device_revoked',
  'device_blocked',
  'device_quarantined',
  'device_not_found',
  'challenge_invalid',
  'signature_invalid',
  'certificate_invalid',
  'policy_name_taken',
  'policy_is_default',
  'rate_limited',
  'approval_self',
  'service_unavailable',
  'database_unavailable',
  'internal_error',
] as const;

export const ErrorCodeSchema = z.enum(ERROR_CODES);
export type ErrorCode = z.infer<typeof ErrorCodeSchema>;

/** The one error body every endpoint answers with: `{ "error": { "code", "message" } }`. */
export const ErrorBodySchema = z
  .object({
    error: z.object({
      code: ErrorCodeSchema,
      message: z.string(),
      details: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
    }),
  })
  .meta({ id: 'Error' });
export type ErrorBody = z.infer<typeof ErrorBodySchema>;
