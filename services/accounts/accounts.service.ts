/**
 * Accounts: users (email unique case-insensitively, argon2id password, role, plan) and their
 * revocable sessions. Roles and plans are decided here and nowhere else: the API reads them
 * from a session, never from a client's token or body.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { isUniqueViolation } from '../../lib/errors';
import type { AccountsDb } from './db';
import { AccountsError } from './errors';
import type { Role as DbRole } from './generated/client';
import { PasswordWork, type PasswordWorkLimits } from './password-work';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH, decoyHash, hashPassword, verifyPassword } from './passwords';
import { DEFAULT_SIGN_IN_LIMITS, SignInThrottle, type SignInLimits } from './sign-in-throttle';

export { AccountsError, type AccountsErrorCode } from './errors';
export { DEFAULT_SIGN_IN_LIMITS, type SignInLimits } from './sign-in-throttle';

export const ROLES = ['user', 'admin'] as const satisfies readonly DbRole[];
export type Role = (typeof ROLES)[number];

export const DEFAULT_PLAN = 'free';

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

export interface AccountsOptions {
  plans: PlanSubscriptions;
  sessionTtlMs?: number;
  signInLimits?: SignInLimits;
  /** The bound on argon2 work (services/accounts/password-work.ts). */
  passwordWork?: PasswordWorkLimits;
  /** The clock of the sign-in throttle (tests move it). */
  now?: () => number;
}

export interface NewAccount {
  email: string;
  password: string;
  /** Operator and seed only; sign-up never passes these. */
  id?: string;
  /** The seed's demo accounts: their address counts as verified (they have no mailbox). */
  emailVerified?: boolean;
  role?: Role;
  plan?: string;
  /** The client's address at sign-up: it becomes a known address of the account (exempt from its sign-in delay). */
  address?: string;
}

export interface SignInInput {
  email: string;
  password: string;
  /** The client's address, for the per-address and per-account-and-address limits. */
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

/** How long a password-reset link works. */
export const RESET_LINK_TTL_MS = 30 * 60_000;
/** How long an address-verification link works. */
export const VERIFICATION_LINK_TTL_MS = 48 * 3600_000;
/** At most one mail of each kind per account this often: a stranger cannot fill someone's mailbox. */
export const LINK_MAIL_INTERVAL_MS = 60_000;

export type LinkPurpose = 'password_reset' | 'email_verification';

/** A link to mail: the token (only its hash is stored) and where it goes. */
export interface MailLink {
  account: Account;
  token: string;
  expiresAt: Date;
}

/** What one purge deleted. */
export interface PurgeCounts {
  sessions: number;
  signInFailures: number;
  knownAddresses: number;
  links: number;
}

export class AccountsService {
  private readonly sessionTtlMs: number;
  private readonly throttle: SignInThrottle;
  private readonly work: PasswordWork;
  private readonly knownAddressMs: number;

  constructor(
    private readonly db: AccountsDb,
    private readonly options: AccountsOptions,
  ) {
    this.sessionTtlMs = options.sessionTtlMs ?? SESSION_TTL_MS;
    const limits = options.signInLimits ?? DEFAULT_SIGN_IN_LIMITS;
    this.throttle = new SignInThrottle(db, limits, options.now);
    this.knownAddressMs = limits.knownAddressMs;
    this.work = new PasswordWork(options.passwordWork);
  }

  /** A new account on the default plan with the user role; EMAIL_TAKEN when the address has one. */
  async createAccount(input: NewAccount): Promise<Account> {
    const email = input.email.trim();
    if (email.length > EMAIL_MAX_LENGTH || !EMAIL.test(email))
      throw new AccountsError('INVALID_EMAIL', 'That is not an email address');
    checkPassword(input.password);
    const plan = input.plan ?? DEFAULT_PLAN;
    const passwordHash = await this.work.run(() => hashPassword(input.password));
    const id = input.id ?? randomUUID();
    try {
      const user = await this.db.user.create({
        data: {
          id,
          email,
          emailKey: emailKeyOf(email),
          passwordHash,
          role: input.role ?? 'user',
          plan,
          emailVerifiedAt: input.emailVerified ? new Date(this.now()) : null,
        },
      });
      // A plan other than the default must reach quota before anyone uses the account.
      if (plan !== DEFAULT_PLAN) await this.options.plans.setPlan(id, plan);
      if (input.address !== undefined) await this.throttle.remember(id, input.address);
      return toAccount(user);
    } catch (error) {
      if (isUniqueViolation(error))
        throw new AccountsError('EMAIL_TAKEN', 'An account with this email exists; sign in instead');
      throw error;
    }
  }

  /**
   * The account whose password this is. A wrong password and an unknown address fail alike
   * (INVALID_CREDENTIALS, after the same argon2 work). The attempt is throttled first
   * (services/accounts/sign-in-throttle.ts: RATE_LIMITED with details.retryAfterSeconds, before
   * the password is checked) and runs within the bound on argon2 work (AUTH_BUSY when it is full).
   */
  async verifyCredentials(input: SignInInput): Promise<Account> {
    const emailKey = emailKeyOf(input.email);
    return this.work.run(async () => {
      const user = await this.db.user.findUnique({ where: { emailKey } });
      const attempt = await this.throttle.begin(emailKey, input.address, user?.id);
      const passwordOk = await verifyPassword(
        user?.passwordHash ?? (await decoyHash()),
        input.password.slice(0, PASSWORD_MAX_LENGTH + 1),
      );
      if (!user || !passwordOk) throw new AccountsError('INVALID_CREDENTIALS', 'The email or the password is wrong');
      await attempt.succeeded(user.id);
      return toAccount(user);
    });
  }

  async openSession(userId: string): Promise<Session> {
    const session = await this.db.session.create({
      data: { id: randomUUID(), userId, expiresAt: new Date(this.now() + this.sessionTtlMs) },
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

  /**
   * Ends every session of the user but `except` (the one asking, when it stays signed in): each
   * token and cookie of them is refused from now on, and the database announces each one, so their
   * streams close. The ids ended, for this process's own streams. Idempotent.
   */
  async revokeSessionsOf(userId: string, except?: string): Promise<string[]> {
    const now = new Date();
    const ended = await this.db.session.findMany({
      where: { userId, revokedAt: null, expiresAt: { gt: now }, ...(except ? { id: { not: except } } : {}) },
      select: { id: true },
    });
    const ids = ended.map((session) => session.id);
    await this.db.session.updateMany({ where: { id: { in: ids }, revokedAt: null }, data: { revokedAt: now } });
    return ids;
  }

  /** The operator's `revoke-sessions`: signs the account out everywhere. */
  async revokeSessionsByEmail(email: string): Promise<{ account: Account; ended: number }> {
    const account = await this.requireByEmail(email);
    return { account, ended: (await this.revokeSessionsOf(account.id)).length };
  }

  /**
   * A new password for a signed-in user who knows the current one. The check of the current
   * password is throttled like a sign-in (a stolen session cannot guess it freely) and bounded like
   * every argon2 call. Every other session of the user ends (a thief's included); `sessionId`, the
   * one asking, stays. CURRENT_PASSWORD_WRONG or WEAK_PASSWORD change nothing.
   */
  async changePassword(input: {
    userId: string;
    sessionId: string;
    currentPassword: string;
    newPassword: string;
    address: string;
  }): Promise<{ endedSessions: string[] }> {
    checkPassword(input.newPassword);
    const user = await this.db.user.findUnique({ where: { id: input.userId } });
    if (!user) throw new AccountsError('ACCOUNT_NOT_FOUND', 'The account no longer exists');
    const passwordHash = await this.work.run(async () => {
      const attempt = await this.throttle.begin(user.emailKey, input.address, user.id);
      if (!(await verifyPassword(user.passwordHash, input.currentPassword.slice(0, PASSWORD_MAX_LENGTH + 1))))
        throw new AccountsError('CURRENT_PASSWORD_WRONG', 'The current password is wrong');
      await attempt.succeeded(user.id);
      return hashPassword(input.newPassword);
    });
    await this.db.user.update({ where: { id: user.id }, data: { passwordHash } });
    return { endedSessions: await this.revokeSessionsOf(user.id, input.sessionId) };
  }

  /**
   * Deletes what no one needs any more: sessions expired or revoked more than `keepEndedMs` ago,
   * sign-in failures older than `keepFailuresMs` (past every throttle window), and known addresses
   * unused for the throttle's `knownAddressMs`. Run on a cadence by the API (services/accounts/purge.ts).
   */
  async purge(options: { keepEndedMs: number; keepFailuresMs: number }): Promise<PurgeCounts> {
    const now = this.now();
    const endedBefore = new Date(now - options.keepEndedMs);
    const sessions = await this.db.session.deleteMany({
      where: { OR: [{ expiresAt: { lt: endedBefore } }, { revokedAt: { lt: endedBefore } }] },
    });
    const failures = await this.db.signInFailure.deleteMany({
      where: { failedAt: { lt: new Date(now - options.keepFailuresMs) } },
    });
    const addresses = await this.db.knownAddress.deleteMany({
      where: { lastSignedInAt: { lt: new Date(now - this.knownAddressMs) } },
    });
    const links = await this.db.accountToken.deleteMany({ where: { expiresAt: { lt: endedBefore } } });
    return {
      sessions: sessions.count,
      signInFailures: failures.count,
      knownAddresses: addresses.count,
      links: links.count,
    };
  }

  /**
   * A new one-use link of `purpose` for the user, or null when one was made less than
   * LINK_MAIL_INTERVAL_MS ago (the caller then sends nothing). A new reset link ends older ones.
   */
  async createLink(userId: string, purpose: LinkPurpose): Promise<MailLink | null> {
    const user = await this.db.user.findUnique({ where: { id: userId } });
    if (!user) return null;
    const now = this.now();
    const recent = await this.db.accountToken.count({
      where: { userId, purpose, createdAt: { gt: new Date(now - LINK_MAIL_INTERVAL_MS) } },
    });
    if (recent > 0) return null;
    const token = randomBytes(32).toString('base64url');
    const expiresAt = new Date(now + (purpose === 'password_reset' ? RESET_LINK_TTL_MS : VERIFICATION_LINK_TTL_MS));
    await this.db.$transaction([
      this.db.accountToken.updateMany({ where: { userId, purpose, usedAt: null }, data: { usedAt: new Date(now) } }),
      this.db.accountToken.create({
        data: { id: randomUUID(), userId, purpose, tokenHash: tokenHashOf(token), createdAt: new Date(now), expiresAt },
      }),
    ]);
    return { account: toAccount(user), token, expiresAt };
  }

  /** A reset link for the account of this address; null for an unknown address (the caller answers alike). */
  async createPasswordReset(email: string): Promise<MailLink | null> {
    const user = await this.db.user.findUnique({ where: { emailKey: emailKeyOf(email) } });
    return user ? this.createLink(user.id, 'password_reset') : null;
  }

  /**
   * Sets a new password through a reset link: LINK_INVALID for a token unknown, used or expired
   * (changing nothing). The link is used up atomically (two uses at once: one wins), every session
   * of the user ends, and the address counts as verified (the mail reached its owner).
   */
  async resetPassword(token: string, newPassword: string): Promise<{ account: Account; endedSessions: string[] }> {
    checkPassword(newPassword);
    const tokenHash = tokenHashOf(token);
    const link = await this.db.accountToken.findUnique({ where: { tokenHash } });
    const invalid = () => new AccountsError('LINK_INVALID', 'This link is not valid any more; ask for a new one');
    if (!link || link.purpose !== 'password_reset' || link.usedAt || link.expiresAt.getTime() <= this.now())
      throw invalid();
    const passwordHash = await this.work.run(() => hashPassword(newPassword));
    const now = new Date(this.now());
    const user = await this.db.$transaction(async (tx) => {
      const claimed = await tx.accountToken.updateMany({
        where: { id: link.id, usedAt: null, expiresAt: { gt: now } },
        data: { usedAt: now },
      });
      if (claimed.count !== 1) throw invalid();
      // The first proof of the address counts; a later reset does not move it.
      await tx.user.updateMany({ where: { id: link.userId, emailVerifiedAt: null }, data: { emailVerifiedAt: now } });
      return tx.user.update({ where: { id: link.userId }, data: { passwordHash } });
    });
    return { account: toAccount(user), endedSessions: await this.revokeSessionsOf(user.id) };
  }

  /** Marks the address verified through a verification link; LINK_INVALID for one unknown, used or expired. */
  async verifyEmail(token: string): Promise<Account> {
    const now = new Date(this.now());
    const link = await this.db.accountToken.findUnique({ where: { tokenHash: tokenHashOf(token) } });
    if (link?.purpose === 'email_verification') {
      const claimed = await this.db.accountToken.updateMany({
        where: { id: link.id, usedAt: null, expiresAt: { gt: now } },
        data: { usedAt: now },
      });
      if (claimed.count === 1) {
        const user = await this.db.user.update({ where: { id: link.userId }, data: { emailVerifiedAt: now } });
        return toAccount(user);
      }
    }
    throw new AccountsError('LINK_INVALID', 'This link is not valid any more; ask for a new one');
  }

  /** Whether the user proved their address (placing orders needs it). */
  async isEmailVerified(userId: string): Promise<boolean> {
    const user = await this.db.user.findUnique({ where: { id: userId }, select: { emailVerifiedAt: true } });
    return Boolean(user?.emailVerifiedAt);
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

  private now(): number {
    return this.options.now?.() ?? Date.now();
  }

  private async requireByEmail(email: string): Promise<Account> {
    const account = await this.findByEmail(email);
    if (!account) throw new AccountsError('ACCOUNT_NOT_FOUND', `No account for ${email}`);
    return account;
  }
}

/** Only a token's SHA-256 is stored: a copy of the database opens no one's account. */
function tokenHashOf(token: string): string {
  return createHash('sha256').update(token).digest('hex');
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
