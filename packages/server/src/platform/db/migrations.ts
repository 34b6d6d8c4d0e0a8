import { type Kysely, type Migration, type MigrationProvider, Migrator, sql } from 'kysely';

// Migrations are code and append-only: never edit one that has shipped, add the next.
function migrationsFor(kind: 'sqlite' | 'postgres'): Record<string, Migration> {
  // Auto-incrementing keys are the one place the two dialects differ.
  const serial = kind === 'postgres' ? ('bigserial' as const) : ('integer' as const);
  return {
    '0001_foundation': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('meta')
          .addColumn('key', 'text', (c) => c.primaryKey())
          .addColumn('value', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('keystore')
          .addColumn('name', 'text', (c) => c.primaryKey())
          .addColumn('sealed', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('admins')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('email', 'text', (c) => c.notNull().unique())
          .addColumn('role', 'text', (c) => c.notNull())
          .addColumn('password_hash', 'text', (c) => c.notNull())
          .addColumn('totp_secret_sealed', 'text')
          .addColumn('totp_pending_sealed', 'text')
          .addColumn('totp_enabled', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('totp_last_step', 'bigint', (c) => c.notNull().defaultTo(0))
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('admin_sessions')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('token_hash', 'text', (c) => c.notNull().unique())
          .addColumn('csrf_hash', 'text', (c) => c.notNull())
          .addColumn('admin_id', 'text', (c) => c.notNull().references('admins.id').onDelete('cascade'))
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('expires_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('login_failures')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('key', 'text', (c) => c.notNull())
          .addColumn('at', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createIndex('login_failures_key_at')
          .on('login_failures')
          .columns(['key', 'at'])
          .execute();
        await db.schema
          .createTable('users')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('email', 'text', (c) => c.notNull().unique())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('groups')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('name', 'text', (c) => c.notNull().unique())
          .addColumn('description', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('user_groups')
          .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
          .addColumn('group_id', 'text', (c) => c.notNull().references('groups.id').onDelete('cascade'))
          .addPrimaryKeyConstraint('user_groups_pk', ['user_id', 'group_id'])
          .execute();
        await db.schema.createIndex('user_groups_group').on('user_groups').column('group_id').execute();
        await db.schema
          .createTable('devices')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('user_id', 'text', (c) => c.notNull().references('users.id'))
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('platform', 'text', (c) => c.notNull())
          .addColumn('client_version', 'text', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('certificate', 'text', (c) => c.notNull())
          .addColumn('certificate_serial', 'text', (c) => c.notNull().unique())
          .addColumn('certificate_not_after', 'text', (c) => c.notNull())
          .addColumn('activated_at', 'text', (c) => c.notNull())
          .addColumn('last_contact_at', 'text')
          .addColumn('revoked_at', 'text')
          .execute();
        await db.schema.createIndex('devices_user').on('devices').column('user_id').execute();
        await db.schema
          .createTable('activations')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
          .addColumn('registration_record', 'text', (c) => c.notNull())
          .addColumn('failed_attempts', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('expires_at', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('created_by', 'text')
          .addColumn('used_at', 'text')
          .addColumn('device_id', 'text')
          .execute();
        await db.schema.createIndex('activations_user').on('activations').column('user_id').execute();
        await db.schema
          .createTable('activation_attempts')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('user_id', 'text')
          .addColumn('candidates', 'text', (c) => c.notNull())
          .addColumn('states_sealed', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('expires_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('device_commands')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('device_id', 'text', (c) => c.notNull().references('devices.id'))
          .addColumn('type', 'text', (c) => c.notNull())
          .addColumn('state', 'text', (c) => c.notNull())
          .addColumn('requested_by', 'text')
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createIndex('device_commands_device')
          .on('device_commands')
          .column('device_id')
          .execute();
        await db.schema
          .createTable('device_challenges')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('device_id', 'text', (c) => c.notNull())
          .addColumn('nonce', 'text', (c) => c.notNull())
          .addColumn('expires_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('device_sessions')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('token_hash', 'text', (c) => c.notNull().unique())
          .addColumn('device_id', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('expires_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('audit_log')
          .addColumn('seq', 'bigint', (c) => c.primaryKey())
          .addColumn('at', 'text', (c) => c.notNull())
          .addColumn('actor_type', 'text', (c) => c.notNull())
          .addColumn('actor_id', 'text')
          .addColumn('actor_label', 'text')
          .addColumn('action', 'text', (c) => c.notNull())
          .addColumn('target', 'text')
          .addColumn('outcome', 'text', (c) => c.notNull())
          .addColumn('details', 'text', (c) => c.notNull())
          .addColumn('ip', 'text')
          .addColumn('prev_hash', 'text', (c) => c.notNull())
          .addColumn('hash', 'text', (c) => c.notNull())
          .execute();
        await sql`select 1`.execute(db);
      },
    },
    '0002_messaging': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('key_packages')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('device_id', 'text', (c) => c.notNull().references('devices.id'))
          .addColumn('key_package', 'text', (c) => c.notNull())
          .addColumn('last_resort', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createIndex('key_packages_device')
          .on('key_packages')
          .columns(['device_id', 'last_resort', 'created_at'])
          .execute();
        await db.schema
          .createTable('conversations')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('name', 'text')
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('epoch', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('created_by_device', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('conversation_users')
          .addColumn('conversation_id', 'text', (c) =>
            c.notNull().references('conversations.id').onDelete('cascade'),
          )
          .addColumn('user_id', 'text', (c) => c.notNull().references('users.id'))
          .addPrimaryKeyConstraint('conversation_users_pk', ['conversation_id', 'user_id'])
          .execute();
        await db.schema
          .createIndex('conversation_users_user')
          .on('conversation_users')
          .column('user_id')
          .execute();
        await db.schema
          .createTable('conversation_devices')
          .addColumn('conversation_id', 'text', (c) =>
            c.notNull().references('conversations.id').onDelete('cascade'),
          )
          .addColumn('device_id', 'text', (c) => c.notNull().references('devices.id'))
          .addColumn('state', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('conversation_devices_pk', ['conversation_id', 'device_id'])
          .execute();
        await db.schema
          .createIndex('conversation_devices_device')
          .on('conversation_devices')
          .column('device_id')
          .execute();
        await db.schema
          .createTable('messages')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('conversation_id', 'text', (c) =>
            c.notNull().references('conversations.id').onDelete('cascade'),
          )
          .addColumn('kind', 'text', (c) => c.notNull())
          .addColumn('epoch', 'integer', (c) => c.notNull())
          .addColumn('client_message_id', 'text', (c) => c.notNull())
          .addColumn('sender_device_id', 'text', (c) => c.notNull())
          .addColumn('body', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addUniqueConstraint('messages_client_id', ['conversation_id', 'client_message_id'])
          .execute();
        await db.schema
          .createTable('deliveries')
          .addColumn('seq', serial, (c) =>
            kind === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement(),
          )
          .addColumn('device_id', 'text', (c) => c.notNull())
          .addColumn('message_id', 'text', (c) => c.notNull().references('messages.id').onDelete('cascade'))
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createIndex('deliveries_device_seq')
          .on('deliveries')
          .columns(['device_id', 'seq'])
          .execute();
        await db.schema.createIndex('deliveries_message').on('deliveries').column('message_id').execute();
      },
    },
    '0003_attachments': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('attachments')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('conversation_id', 'text', (c) =>
            c.notNull().references('conversations.id').onDelete('cascade'),
          )
          .addColumn('uploader_device_id', 'text', (c) => c.notNull())
          .addColumn('size', 'bigint', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();
      },
    },
    '0006_commands': {
      async up(db: Kysely<unknown>) {
        // Signed remote commands: the envelope the device verifies, and each lifecycle timestamp.
        for (const col of [
          'params',
          'nonce',
          'envelope',
          'signature',
          'expires_at',
          'delivered_at',
          'acknowledged_at',
          'completed_at',
          'failure_reason',
        ]) {
          await db.schema.alterTable('device_commands').addColumn(col, 'text').execute();
        }
      },
    },
    '0005_webhooks': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('webhooks')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('url', 'text', (c) => c.notNull())
          .addColumn('description', 'text', (c) => c.notNull())
          .addColumn('events', 'text', (c) => c.notNull()) // JSON array of event types or '*'
          .addColumn('enabled', 'integer', (c) => c.notNull())
          .addColumn('secret_sealed', 'text', (c) => c.notNull()) // SecretBox, context webhook:<id>
          .addColumn('created_by', 'text')
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('webhook_deliveries')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('webhook_id', 'text', (c) => c.notNull().references('webhooks.id').onDelete('cascade'))
          .addColumn('event_id', 'text', (c) => c.notNull())
          .addColumn('event_type', 'text', (c) => c.notNull())
          .addColumn('payload', 'text', (c) => c.notNull()) // the exact body that is signed and sent
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('attempts', 'integer', (c) => c.notNull())
          .addColumn('next_attempt_at', 'text')
          .addColumn('last_status_code', 'integer')
          .addColumn('last_error', 'text')
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .addColumn('delivered_at', 'text')
          .execute();
        await db.schema
          .createIndex('webhook_deliveries_due')
          .on('webhook_deliveries')
          .columns(['status', 'next_attempt_at'])
          .execute();
        await db.schema
          .createIndex('webhook_deliveries_webhook')
          .on('webhook_deliveries')
          .columns(['webhook_id', 'created_at'])
          .execute();
        await db.schema
          .createTable('webhook_attempts')
          .addColumn('seq', serial, (c) =>
            kind === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement(),
          )
          .addColumn('delivery_id', 'text', (c) =>
            c.notNull().references('webhook_deliveries.id').onDelete('cascade'),
          )
          .addColumn('at', 'text', (c) => c.notNull())
          .addColumn('status_code', 'integer')
          .addColumn('error', 'text')
          .addColumn('duration_ms', 'integer', (c) => c.notNull())
          .execute();
        await db.schema
          .createIndex('webhook_attempts_delivery')
          .on('webhook_attempts')
          .column('delivery_id')
          .execute();
      },
    },
    '0004_policies': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('policies')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('name', 'text', (c) => c.notNull().unique())
          .addColumn('description', 'text', (c) => c.notNull())
          .addColumn('version', 'integer', (c) => c.notNull())
          .addColumn('document', 'text', (c) => c.notNull())
          .addColumn('is_default', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('policy_user_assignments')
          .addColumn('user_id', 'text', (c) => c.primaryKey().references('users.id').onDelete('cascade'))
          .addColumn('policy_id', 'text', (c) => c.notNull().references('policies.id').onDelete('cascade'))
          .addColumn('assigned_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('policy_group_assignments')
          .addColumn('group_id', 'text', (c) => c.primaryKey().references('groups.id').onDelete('cascade'))
          .addColumn('policy_id', 'text', (c) => c.notNull().references('policies.id').onDelete('cascade'))
          .addColumn('rank', 'integer', (c) => c.notNull())
          .addColumn('assigned_at', 'text', (c) => c.notNull())
          .execute();
        const now = new Date().toISOString();
        // The default policy always exists; an empty document means "every setting at its default",
        // so the document schema's defaults, not this migration, decide what the default enforces.
        await sql`insert into policies (id, name, description, version, document, is_default, created_at, updated_at)
          values (${crypto.randomUUID()}, 'Default', 'Applies to every user without a user or group policy', 1, '{}', 1, ${now}, ${now})`.execute(
          db,
        );
      },
    },
    '0009_selfservice': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('employee_accounts')
          .addColumn('user_id', 'text', (c) => c.primaryKey().references('users.id').onDelete('cascade'))
          .addColumn('password_hash', 'text', (c) => c.notNull())
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('employee_invitations')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
          .addColumn('code_hash', 'text', (c) => c.notNull())
          .addColumn('expires_at', 'text', (c) => c.notNull())
          .addColumn('used_at', 'text')
          .addColumn('created_by', 'text')
          .addColumn('created_at', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('employee_sessions')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('token_hash', 'text', (c) => c.notNull().unique())
          .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('expires_at', 'text', (c) => c.notNull())
          .execute();
      },
    },
    '0008_approvals': {
      async up(db: Kysely<unknown>) {
        // Guarded commands (bulk over the threshold, full wipes) wait here for a second administrator.
        await db.schema
          .createTable('command_approvals')
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('state', 'text', (c) => c.notNull())
          .addColumn('type', 'text', (c) => c.notNull())
          .addColumn('target', 'text', (c) => c.notNull())
          .addColumn('device_ids', 'text', (c) => c.notNull())
          .addColumn('message', 'text')
          .addColumn('reason', 'text')
          .addColumn('guardrail', 'text', (c) => c.notNull())
          .addColumn('requested_by', 'text', (c) => c.notNull())
          .addColumn('requested_by_email', 'text', (c) => c.notNull())
          .addColumn('requested_by_role', 'text', (c) => c.notNull())
          .addColumn('decided_by', 'text')
          .addColumn('decided_by_email', 'text')
          .addColumn('decision_reason', 'text')
          .addColumn('created_at', 'text', (c) => c.notNull())
          .addColumn('expires_at', 'text', (c) => c.notNull())
          .addColumn('decided_at', 'text')
          .addColumn('run_after', 'text')
          .addColumn('executed_at', 'text')
          .addColumn('command_ids', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createIndex('command_approvals_state')
          .on('command_approvals')
          .columns(['state', 'run_after'])
          .execute();
      },
    },
    '0010_console_indexes': {
      async up(db: Kysely<unknown>) {
        // The console's dashboard and filtered lists (GROUP BY and ranges over the whole fleet).
        const indexes: [string, string, string[]][] = [
          ['devices_activated_at', 'devices', ['activated_at']],
          ['devices_status_compliance', 'devices', ['status', 'compliance', 'platform']],
          ['device_commands_state', 'device_commands', ['state', 'updated_at']],
          ['messages_created_at', 'messages', ['created_at']],
          ['audit_log_action', 'audit_log', ['action', 'seq']],
          ['audit_log_at', 'audit_log', ['at']],
        ];
        for (const [name, table, columns] of indexes)
          await db.schema.createIndex(name).on(table).columns(columns).execute();
      },
    },
    '0007_compliance': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('device_postures')
          .addColumn('device_id', 'text', (c) => c.primaryKey().references('devices.id').onDelete('cascade'))
          .addColumn('platform', 'text', (c) => c.notNull())
          .addColumn('os_version', 'text', (c) => c.notNull())
          .addColumn('client_version', 'text', (c) => c.notNull())
          .addColumn('passcode_set', 'integer', (c) => c.notNull())
          .addColumn('storage_encrypted', 'integer', (c) => c.notNull())
          .addColumn('rooted', 'integer', (c) => c.notNull())
          .addColumn('reported_at', 'text', (c) => c.notNull())
          .execute();
        // The evaluated state lives on the device row so inventory, /device/me and the messaging
        // fan-out read it without a join; reasons are a JSON array of ComplianceReason.
        await db.schema
          .alterTable('devices')
          .addColumn('compliance', 'text', (c) => c.notNull().defaultTo('unknown'))
          .execute();
        await db.schema
          .alterTable('devices')
          .addColumn('compliance_reasons', 'text', (c) => c.notNull().defaultTo('[]'))
          .execute();
        await db.schema.alterTable('devices').addColumn('compliance_evaluated_at', 'text').execute();
        await db.schema
          .alterTable('devices')
          .addColumn('messaging_blocked', 'integer', (c) => c.notNull().defaultTo(0))
          .execute();
        await db.schema
          .alterTable('devices')
          .addColumn('quarantined', 'integer', (c) => c.notNull().defaultTo(0))
          .execute();
        // One row per scheduled job: a node runs the job only after winning the row with
        // `UPDATE … WHERE expires_at < now`, so a job runs once per interval across the cluster.
        await db.schema
          .createTable('job_leases')
          .addColumn('name', 'text', (c) => c.primaryKey())
          .addColumn('holder', 'text', (c) => c.notNull())
          .addColumn('expires_at', 'text', (c) => c.notNull())
          .execute();
      },
    },
  };
}

class CodeMigrationProvider implements MigrationProvider {
  constructor(private readonly kind: 'sqlite' | 'postgres') {}
  getMigrations(): Promise<Record<string, Migration>> {
    return Promise.resolve(migrationsFor(this.kind));
  }
}

/** Runs every pending migration; throws with the failing migration's name. */
export async function migrateToLatest(db: Kysely<unknown>, kind: 'sqlite' | 'postgres'): Promise<void> {
  const migrator = new Migrator({ db, provider: new CodeMigrationProvider(kind) });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new Error(
      `database migration ${failed} failed: ${error instanceof Error ? error.message : JSON.stringify(error)}`,
      { cause: error },
    );
  }
}
