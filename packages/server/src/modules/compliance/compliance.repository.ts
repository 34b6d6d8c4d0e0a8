import type { PostureReport } from '@enclave/protocol';
import type { Db } from '../../platform/db/database.js';

/** The compliance state stored on a device row. */
export interface ComplianceState {
  compliance: string;
  reasons: string;
  evaluatedAt: string;
  messagingBlocked: boolean;
  quarantined: boolean;
}

/** Posture reports and the evaluated compliance state of devices. */
export class ComplianceRepository {
  constructor(private readonly db: Db) {}

  device(id: string) {
    return this.db
      .selectFrom('devices')
      .innerJoin('users', 'users.id', 'devices.user_id')
      .select([
        'devices.id',
        'devices.user_id',
        'users.email as user_email',
        'devices.status',
        'devices.activated_at',
        'devices.last_contact_at',
        'devices.compliance',
        'devices.compliance_reasons',
        'devices.messaging_blocked',
        'devices.quarantined',
      ])
      .where('devices.id', '=', id)
      .executeTakeFirst();
  }

  /** Active devices, of some users or of everyone. */
  async activeDeviceIds(userIds?: string[]): Promise<string[]> {
    if (userIds && !userIds.length) return [];
    let q = this.db.selectFrom('devices').select('id').where('status', '=', 'active');
    if (userIds) q = q.where('user_id', 'in', userIds);
    return (await q.orderBy('id').execute()).map((r) => r.id);
  }

  async savePosture(deviceId: string, r: PostureReport, at: string): Promise<void> {
    const values = {
      platform: r.platform,
      os_version: r.osVersion,
      client_version: r.clientVersion,
      passcode_set: r.passcodeSet ? 1 : 0,
      storage_encrypted: r.storageEncrypted ? 1 : 0,
      rooted: r.rooted ? 1 : 0,
      reported_at: at,
    };
    await this.db.transaction().execute(async (trx) => {
      await trx
        .insertInto('device_postures')
        .values({ device_id: deviceId, ...values })
        .onConflict((oc) => oc.column('device_id').doUpdateSet(values))
        .execute();
      await trx.updateTable('devices').set({ last_contact_at: at }).where('id', '=', deviceId).execute();
    });
  }

  async posture(deviceId: string): Promise<(PostureReport & { reportedAt: string }) | undefined> {
    const r = await this.db
      .selectFrom('device_postures')
      .selectAll()
      .where('device_id', '=', deviceId)
      .executeTakeFirst();
    if (!r) return undefined;
    return {
      platform: r.platform,
      osVersion: r.os_version,
      clientVersion: r.client_version,
      passcodeSet: Number(r.passcode_set) === 1,
      storageEncrypted: Number(r.storage_encrypted) === 1,
      rooted: Number(r.rooted) === 1,
      reportedAt: r.reported_at,
    };
  }

  /**
   * Stores a new state only if the reasons are still those the evaluation started from, so two
   * concurrent evaluations cannot both apply the same action; false means "evaluate again".
   */
  async saveState(deviceId: string, previousReasons: string, s: ComplianceState): Promise<boolean> {
    const r = await this.db
      .updateTable('devices')
      .set({
        compliance: s.compliance,
        compliance_reasons: s.reasons,
        compliance_evaluated_at: s.evaluatedAt,
        messaging_blocked: s.messagingBlocked ? 1 : 0,
        quarantined: s.quarantined ? 1 : 0,
      })
      .where('id', '=', deviceId)
      .where('compliance_reasons', '=', previousReasons)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }
}
