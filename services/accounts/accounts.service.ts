/**
 * Accounts: users (email unique case-insensitively, argon2id password, role, plan) and their
 * revocable sessions. Roles and plans are decided here and nowhere else: the API reads them
 * from a session, never from a client's token or body.
 */
import { randomUUID } from 'node:crypto';
import { DomainError, isUniqueViolation } from '../../lib/errors';
import type { AccountsDb } from './db';
import type { Role as DbRole } from './generated/client';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH, decoyHash, hashPassword, verifyPassword } from './passwords';

export const ROLES = ['user', 'admin'] as const satisfies readonly DbRole[];
export type Role = (typeof ROLES)[number];

export const DEFAULT_PLAN = 'free';

export type AccountsErrorCode =
  'EMAIL_TAKEN' | 'INVALID_EMAIL' | 'WEAK_PASSWORD' | 'INVALID_CREDENTIALS' | 'RATE_LIMITED' | 'ACCOUNT_NOT_FOUND';

export class AccountsError extends DomainError {
  declare readonly code: AccountsErrorCode;

  constructor(code: AccountsErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(code, message, details);
    this.name = 'AccountsError';
  }
}

export interface Account {
  id: string;
  email: string;
  role: Role;
  plan: string;
}

export interface Session {
  id: string;
  userId: string;
  expiresAt: Date;
}

/** An active session with its user's current role and plan. */
export interface SessionAccount extends Session {
  account: Account;
}

/** The quota service, as far as accounts needs it: it is told each user's plan. */
export interface PlanSubscriptions {
  setPlan(userId: string, planId: string): Promise<void>;
}

export interface SignInLimits {
  /** Failures per account within the window before sign-in is refused with RATE_LIMITED. */
  perAccount: number;
  /** Failures per client address within the window (many accounts guessed from one place). */
  perAddress: number;
  windowMs: number;
}

export const DEFAULT_SIGN_IN_LIMITS: SignInLimits = { perAccount: 5, perAddress: 20, windowMs: 15 * 60_000 };

export interface AccountsOptions {
  plans: PlanSubscriptions;
  sessionTtlMs?: number;
  signInLimits?: SignInLimits;
}

export interface NewAccount {
  email: string;
  password: string;
  /** Operator and seed only; sign-up never passes these. */
  id?: string;
  role?: Role;
  plan?: string;
}

export interface SignInInput {
  email: string;
  password: string;
  /** The client's address, for the per-address rate limit. */
  address: string;
}

// Deliberately loose: one @, no spaces, a dot in the domain. The mailbox proves the rest.
const EMAIL = /^[^\s@]{1,64}@[^\s@]+\.[^\s@]+$/;
const EMAIL_MAX_LENGTH = 254;

/** The unique key of an address: case does not make two accounts. */
export function emailKeyOf(email: string): string {
  return email.trim().toLowerCase();
}

export const SESSION_TTL_MS = 7 * 24 * 3600_000;

export class AccountsService {
  private readonly sessionTtlMs: number;
  private readonly limits: SignInLimits;

  constructor(
    private readonly db: AccountsDb,
    private readonly options: AccountsOptions,
  ) {
    this.sessionTtlMs = options.sessionTtlMs ?? SESSION_TTL_MS;
    this.limits = options.signInLimits ?? DEFAULT_SIGN_IN_LIMITS;
  }

  /** A new account on the default plan with the user role; EMAIL_TAKEN when the address has one. */
  async createAccount(input: NewAccount): Promise<Account> {
    const email = input.email.trim();
    if (email.length > EMAIL_MAX_LENGTH || !EMAIL.test(email))
      throw new AccountsError('INVALID_EMAIL', 'That is not an email address');
    checkPassword(input.password);
    const plan = input.plan ?? DEFAULT_PLAN;
    const passwordHash = await hashPassword(input.password);
    const id = input.id ?? randomUUID();
    try {
      const user = await this.db.user.create({
        data: { id, email, emailKey: emailKeyOf(email), passwordHash, role: input.role ?? 'user', plan },
      });
      // A plan other than the default must reach quota before anyone uses the account.
      if (plan !== DEFAULT_PLAN) await this.options.plans.setPlan(id, plan);
      return toAccount(user);
    } catch (error) {
      if (isUniqueViolation(error))
        throw new AccountsError('EMAIL_TAKEN', 'An account with this email exists; sign in instead');
      throw error;
    }
  }

  /**
   * The account whose password this is. A wrong password and an unknown address fail alike
   * (INVALID_CREDENTIALS, after the same argon2 work); too many recent failures for the account
   * or from the address fail with RATE_LIMITED before the password is even checked.
   */
  async verifyCredentials(input: SignInInput): Promise<Account> {
    const emailKey = emailKeyOf(input.email);
    const since = new Date(Date.now() - this.limits.windowMs);
    const [forAccount, fromAddress] = await Promise.all([
      this.db.signInFailure.count({ where: { emailKey, failedAt: { gte: since } } }),
      this.db.signInFailure.count({ where: { address: input.address, failedAt: { gte: since } } }),
    ]);
    if (forAccount >= this.limits.perAccount || fromAddress >= this.limits.perAddress) {
      throw new AccountsError('RATE_LIMITED', 'Too many failed sign-ins; wait a few minutes and try again');
    }
    const user = await this.db.user.findUnique({ where: { emailKey } });
    const passwordOk = await verifyPassword(
      user?.passwordHash ?? (await decoyHash()),
      input.password.slice(0, PASSWORD_MAX_LENGTH + 1),
    );
    if (!user || !passwordOk) {
      await this.db.signInFailure.create({ data: { id: randomUUID(), emailKey, address: input.address } });
      throw new AccountsError('INVALID_CREDENTIALS', 'The email or the password is wrong');
    }
    return toAccount(user);
  }

  async openSession(userId: string): Promise<Session> {
    const session = await this.db.session.create({
      data: { id: randomUUID(), userId, expiresAt: new Date(Date.now() + this.sessionTtlMs) },
    });
    return { id: session.id, userId: session.userId, expiresAt: session.expiresAt };
  }

  /** The session and its user's current role and plan, or null once it is revoked, expired or unknown. */
  async activeSession(sessionId: string): Promise<SessionAccount | null> {
    const session = await this.db.session.findUnique({ where: { id: sessionId }, include: { user: true } });
    if (!session || session.revokedAt || session.expiresAt.getTime() <= Date.now()) return null;
    return { id: session.id, userId: session.userId, expiresAt: session.expiresAt, account: toAccount(session.user) };
  }

  /** Of these sessions, the ones still active (not revoked, not expired): one query, for re-checking many at once. */
  async activeSessionIds(sessionIds: readonly string[]): Promise<Set<string>> {
    if (sessionIds.length === 0) return new Set();
    const sessions = await this.db.session.findMany({
      where: { id: { in: [...sessionIds] }, revokedAt: null, expiresAt: { gt: new Date() } },
      select: { id: true },
    });
    return new Set(sessions.map((session) => session.id));
  }

  /**
   * Ends a session: every token and cookie carrying it is refused from now on, and the accounts
   * database announces it, so the session's open streams close (services/accounts/session-watch.ts). Idempotent.
   */
  async revokeSession(sessionId: string): Promise<void> {
    await this.db.session.updateMany({ where: { id: sessionId, revokedAt: null }, data: { revokedAt: new Date() } });
  }

  /** Who hears of operator matters (the reconciler's drift notifications). */
  async listAdmins(): Promise<Account[]> {
    const users = await this.db.user.findMany({ where: { role: 'admin' }, orderBy: { email: 'asc' } });
    return users.map(toAccount);
  }

  async findById(id: string): Promise<Account | null> {
    const user = await this.db.user.findUnique({ where: { id } });
    return user && toAccount(user);
  }

  async findByEmail(email: string): Promise<Account | null> {
    const user = await this.db.user.findUnique({ where: { emailKey: emailKeyOf(email) } });
    return user && toAccount(user);
  }

  /** The operator's `make-admin`: the only way anyone gets the admin role. */
  async setRole(email: string, role: Role): Promise<Account> {
    const account = await this.requireByEmail(email);
    const user = await this.db.user.update({ where: { id: account.id }, data: { role } });
    return toAccount(user);
  }

  /**
   * Moves the user to another plan. Quota is told first: it refuses an unknown plan
   * (UNKNOWN_PLAN) before anything changes here, and a retry after a failure in between
   * converges, because both writes are idempotent.
   */
  async setPlan(email: string, plan: string): Promise<Account> {
    const account = await this.requireByEmail(email);
    await this.options.plans.setPlan(account.id, plan);
    const user = await this.db.user.update({ where: { id: account.id }, data: { plan } });
    return toAccount(user);
  }

  private async requireByEmail(email: string): Promise<Account> {
    const account = await this.findByEmail(email);
    if (!account) throw new AccountsError('ACCOUNT_NOT_FOUND', `No account for ${email}`);
    return account;
  }
}

function checkPassword(password: string): void {
  if (password.length < PASSWORD_MIN_LENGTH) {
    throw new AccountsError('WEAK_PASSWORD', `A password needs at least ${PASSWORD_MIN_LENGTH} characters`);
  }
  if (password.length > PASSWORD_MAX_LENGTH) {
    throw new AccountsError('WEAK_PASSWORD', `A password has at most ${PASSWORD_MAX_LENGTH} characters`);
  }
}

function toAccount(user: { id: string; email: string; role: DbRole; plan: string }): Account {
  return { id: user.id, email: user.email, role: user.role, plan: user.plan };
}
