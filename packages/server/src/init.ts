import { openEnclave } from './bootstrap.js';
import { AdminRepository, AdminService } from './modules/admins/index.js';
import { AuditRepository, AuditService, SYSTEM } from './modules/audit/index.js';
import { InitConfigSchema, type InitConfigInput } from './platform/config/config.js';

/**
 * `enclave init`: creates the installation offline (database, KEK, PKI) and the first Security
 * Administrator, for scripted installs. Refuses an installation that already exists.
 */
export async function initEnclave(input: InitConfigInput, env: NodeJS.ProcessEnv = process.env) {
  const cfg = InitConfigSchema.parse(input);
  const enclave = await openEnclave({
    dataDir: cfg.dataDir,
    dbUrl: cfg.dbUrl,
    organization: cfg.organization,
    env,
  });
  try {
    const adminRepo = new AdminRepository(enclave.handle.db);
    if (!enclave.created || (await adminRepo.count()) > 0) {
      throw new InitError(
        `an installation already exists in ${cfg.dbUrl ? 'that database' : cfg.dataDir}: start it with \`enclave server\``,
      );
    }
    const audit = new AuditService(new AuditRepository(enclave.handle.db));
    await audit.record({
      actor: SYSTEM,
      action: 'system.initialised',
      details: { organization: cfg.organization, caFingerprint: enclave.pki.caFingerprint },
    });
    const admin = await new AdminService(adminRepo, audit).create(
      { email: cfg.adminEmail, role: 'security-admin', password: cfg.adminPassword },
      null,
      null,
      'admin.setup',
    );
    return {
      caFingerprint: enclave.pki.caFingerprint,
      dataDir: cfg.dataDir,
      organization: cfg.organization,
      admin: { id: admin.id, email: admin.email, role: admin.role },
      kek: enclave.kek,
    };
  } finally {
    await enclave.close();
  }
}

export class InitError extends Error {
  override name = 'InitError';
}
