import type { Generated } from 'kysely';

/** Kysely table types. Times are ISO-8601 UTC strings and booleans are 0/1 so one query serves SQLite and PostgreSQL. */
export interface Database {
  meta: { key: string; value: string };
  keystore: { name: string; sealed: string; created_at: string };
  admins: {
    id: string;
    email: string;
    role: string;
    password_hash: string;
    totp_secret_sealed: string | null;
    totp_pending_sealed: string | null;
    totp_enabled: number;
    totp_last_step: number;
    created_at: string;
    updated_at: string;
  };
  admin_sessions: {
    id: string;
    token_hash: string;
    csrf_hash: string;
    admin_id: string;
    created_at: string;
    expires_at: string;
  };
  login_failures: { id: string; key: string; at: string };
  users: { id: string; email: string; name: string; created_at: string; updated_at: string };
  groups: { id: string; name: string; description: string; created_at: string };
  user_groups: { user_id: string; group_id: string };
  activations: {
    id: string;
    user_id: string;
    registration_record: string;
    failed_attempts: number;
    expires_at: string;
    created_at: string;
    created_by: string | null;
    used_at: string | null;
    device_id: string | null;
  };
  activation_attempts: {
    id: string;
    user_id: string | null;
    candidates: string;
    states_sealed: string;
    created_at: string;
    expires_at: string;
  };
  devices: {
    id: string;
    user_id: string;
    name: string;
    platform: string;
    client_version: string;
    status: string;
    certificate: string;
    certificate_serial: string;
    certificate_not_after: string;
    activated_at: string;
    last_contact_at: string | null;
    revoked_at: string | null;
    // Compliance state (0007); optional so code that inserts a device need not name it (defaults apply).
    compliance?: string;
    compliance_reasons?: string;
    compliance_evaluated_at?: string | null;
    messaging_blocked?: number;
    quarantined?: number;
  };
  device_postures: {
    device_id: string;
    platform: string;
    os_version: string;
    client_version: string;
    passcode_set: number;
    storage_encrypted: number;
    rooted: number;
    reported_at: string;
  };
  job_leases: { name: string; holder: string; expires_at: string };
  device_commands: {
    id: string;
    device_id: string;
    type: string;
    state: string;
    requested_by: string | null;
    created_at: string;
    updated_at: string;
    params: string | null;
    nonce: string | null;
    envelope: string | null;
    signature: string | null;
    expires_at: string | null;
    delivered_at: string | null;
    acknowledged_at: string | null;
    completed_at: string | null;
    failure_reason: string | null;
  };
  command_approvals: {
    id: string;
    state: string;
    type: string;
    target: string;
    device_ids: string;
    message: string | null;
    reason: string | null;
    guardrail: string;
    requested_by: string;
    requested_by_email: string;
    requested_by_role: string;
    decided_by: string | null;
    decided_by_email: string | null;
    decision_reason: string | null;
    created_at: string;
    expires_at: string;
    decided_at: string | null;
    run_after: string | null;
    executed_at: string | null;
    command_ids: string;
  };
  device_challenges: { id: string; device_id: string; nonce: string; expires_at: string };
  device_sessions: {
    id: string;
    token_hash: string;
    device_id: string;
    created_at: string;
    expires_at: string;
  };
  audit_log: {
    seq: number;
    at: string;
    actor_type: string;
    actor_id: string | null;
    actor_label: string | null;
    action: string;
    target: string | null;
    outcome: string;
    details: string;
    ip: string | null;
    prev_hash: string;
    hash: string;
  };
  key_packages: {
    id: string;
    device_id: string;
    key_package: string;
    last_resort: number;
    created_at: string;
  };
  conversations: {
    id: string;
    name: string | null;
    kind: string;
    epoch: number;
    created_by_device: string;
    created_at: string;
    updated_at: string;
  };
  conversation_users: { conversation_id: string; user_id: string };
  conversation_devices: { conversation_id: string; device_id: string; state: string; updated_at: string };
  messages: {
    id: string;
    conversation_id: string;
    kind: string;
    epoch: number;
    client_message_id: string;
    sender_device_id: string;
    body: string;
    created_at: string;
  };
  deliveries: { seq: Generated<number>; device_id: string; message_id: string; created_at: string };
  attachments: {
    id: string;
    conversation_id: string;
    uploader_device_id: string;
    size: number;
    created_at: string;
  };
  webhooks: {
    id: string;
    url: string;
    description: string;
    events: string;
    enabled: number;
    secret_sealed: string;
    created_by: string | null;
    created_at: string;
    updated_at: string;
  };
  webhook_deliveries: {
    id: string;
    webhook_id: string;
    event_id: string;
    event_type: string;
    payload: string;
    status: string;
    attempts: number;
    next_attempt_at: string | null;
    last_status_code: number | null;
    last_error: string | null;
    created_at: string;
    updated_at: string;
    delivered_at: string | null;
  };
  webhook_attempts: {
    seq: Generated<number>;
    delivery_id: string;
    at: string;
    status_code: number | null;
    error: string | null;
    duration_ms: number;
  };
  policies: {
    id: string;
    name: string;
    description: string;
    version: number;
    document: string;
    is_default: number;
    created_at: string;
    updated_at: string;
  };
  policy_user_assignments: { user_id: string; policy_id: string; assigned_at: string };
  policy_group_assignments: { group_id: string; policy_id: string; rank: number; assigned_at: string };
  employee_accounts: { user_id: string; password_hash: string; created_at: string; updated_at: string };
  employee_invitations: {
    id: string;
    user_id: string;
    code_hash: string;
    expires_at: string;
    used_at: string | null;
    created_by: string | null;
    created_at: string;
  };
  employee_sessions: {
    id: string;
    token_hash: string;
    user_id: string;
    created_at: string;
    expires_at: string;
  };
}
