import { randomBytes } from 'node:crypto';
import type { MetaRepository } from '../../platform/db/meta.repository.js';
import { AppError } from '../../platform/http/app-error.js';
import type { AdminRepository } from './admin.repository.js';
import type { AdminService } from './admin.service.js';
import { sameHash, tokenHash } from './tokens.js';

const SETUP_KEY = 'setup_code_hash';

/**
 * The one-time setup code that creates the first Security Administrator. Only its hash is stored;
 * it stops working once any administrator exists.
 */
export class SetupService {
  constructor(
    private readonly meta: MetaRepository,
    private readonly admins: AdminRepository,
    private readonly adminService: AdminService,
  ) {}

  async isRequired(): Promise<boolean> {
    return (await this.admins.count()) === 0;
  }

  /** Issues a fresh code (invalidating any earlier one) when no administrator exists yet. */
  async issueCodeIfNeeded(): Promise<string | null> {
    if (!(await this.isRequired())) return null;
    const raw = randomBytes(10).toString('hex').toUpperCase();
    const code = raw.match(/.{4}/g)?.join('-') ?? raw;
    await this.meta.set(SETUP_KEY, tokenHash(code));
    return code;
  }

  async complete(input: { code: string; email: string; password: string }, ip: string) {
    if (!(await this.isRequired()))
      throw new AppError(409, 'setup_already_done', 'setup is already done: sign in instead');
    const stored = await this.meta.get(SETUP_KEY);
    if (!stored || !sameHash(tokenHash(input.code.trim().toUpperCase()), stored)) {
      throw new AppError(
        401,
        'setup_code_invalid',
        'wrong setup code: use the code the server printed at its latest start',
      );
    }
    await this.meta.delete(SETUP_KEY);
    const admin = await this.adminService.create(
      { email: input.email, role: 'security-admin', password: input.password },
      null,
      ip,
      'admin.setup',
    );
    return { id: admin.id, email: admin.email, role: admin.role };
  }
}
