/**
 * Sign-in throttling that slows a guesser, not the owner (OWASP ASVS 2.2.1). Nothing here is a
 * lock a third party can renew on someone's account:
 *
 * - per account and address: `perAccountAddress` failures within the window stop that address
 *   guessing that account; the owner elsewhere is not concerned;
 * - per address: `perAddress` failures within the window, over any accounts, stop that address
 *   (one place spraying guesses over many accounts);
 * - per account: past `accountFreeFailures` failures within the window, from any addresses, an
 *   attempt must wait a delay that doubles with each further failure (up to `accountDelayMaxMs`)
 *   after the account's last failure. This slows guessing spread over many addresses. It does not
 *   apply from an address the account has signed in from before (a known address, kept for
 *   `knownAddressMs`), so the owner at home or at work is never held up by an attack.
 *
 * Every attempt is counted before its password is checked, and atomically: under transaction
 * locks on the account and on the address, the recent failures are counted and, if the attempt
 * may go on, a failure row is written for it at once. A right password deletes its row
 * afterwards. So N parallel attempts see each other's rows and at most the limit get through to
 * argon2 (a counter read before it is written would let all N pass).
 */
import { randomUUID } from 'node:crypto';
import type { AccountsDb } from './db';
import { AccountsError } from './errors';

export interface SignInLimits {
  /** Failures of one account from one address within the window before that address is refused for it. */
  perAccountAddress: number;
  /** Failures from one address within the window, over any accounts, before the address is refused. */
  perAddress: number;
  windowMs: number;
  /** Failures of one account within the window (any addresses) before its attempts are delayed. */
  accountFreeFailures: number;
  /** The first delay; each further failure doubles it. */
  accountDelayBaseMs: number;
  accountDelayMaxMs: number;
  /** How long an address the account signed in from stays known (exempt from the account's delay). */
  knownAddressMs: number;
}

export const DEFAULT_SIGN_IN_LIMITS: SignInLimits = {
  perAccountAddress: 5,
  perAddress: 20,
  windowMs: 15 * 60_000,
  // Above perAccountAddress: one address alone never sets the account's delay off; it takes guessing from several.
  accountFreeFailures: 10,
  accountDelayBaseMs: 1_000,
  accountDelayMaxMs: 60_000,
  knownAddressMs: 90 * 24 * 3600_000,
};

/** An attempt allowed to check its password; settle it with its outcome. */
export interface SignInAttempt {
  /** The password was right: the attempt is no failure, and the address becomes known for the user. */
  succeeded(userId: string): Promise<void>;
}

export class SignInThrottle {
  constructor(
    private readonly db: AccountsDb,
    private readonly limits: SignInLimits,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Counts the attempt, or refuses it with RATE_LIMITED (details.retryAfterSeconds) without
   * counting it. `userId` is the account of the email, when there is one (for its known addresses).
   */
  async begin(emailKey: string, address: string, userId: string | undefined): Promise<SignInAttempt> {
    const { limits } = this;
    const id = randomUUID();
    await this.db.$transaction(async (tx) => {
      // Always account first, then address: no two attempts can wait on each other in a circle.
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${`sign-in account ${emailKey}`}, 0))`;
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${`sign-in address ${address}`}, 0))`;
      const now = this.now();
      const since = new Date(now - limits.windowMs);
      const [pair, fromAddress, forAccount, known] = await Promise.all([
        tx.signInFailure.aggregate({
          where: { emailKey, address, failedAt: { gte: since } },
          _count: true,
          _min: { failedAt: true },
        }),
        tx.signInFailure.aggregate({
          where: { address, failedAt: { gte: since } },
          _count: true,
          _min: { failedAt: true },
        }),
        tx.signInFailure.aggregate({
          where: { emailKey, failedAt: { gte: since } },
          _count: true,
          _max: { failedAt: true },
        }),
        userId
          ? tx.knownAddress.findFirst({
              where: { userId, address, lastSignedInAt: { gte: new Date(now - limits.knownAddressMs) } },
            })
          : null,
      ]);
      if (pair._count >= limits.perAccountAddress)
        throw rateLimited(pair._min.failedAt!.getTime() + limits.windowMs - now);
      if (fromAddress._count >= limits.perAddress)
        throw rateLimited(fromAddress._min.failedAt!.getTime() + limits.windowMs - now);
      if (!known && forAccount._count >= limits.accountFreeFailures) {
        const ready = forAccount._max.failedAt!.getTime() + accountDelayMs(limits, forAccount._count);
        if (ready > now) throw rateLimited(ready - now);
      }
      // Counted as a failure until the password proves otherwise.
      await tx.signInFailure.create({ data: { id, emailKey, address, failedAt: new Date(now) } });
    });
    return {
      succeeded: async (owner) => {
        await this.db.signInFailure.deleteMany({ where: { id } });
        const lastSignedInAt = new Date(this.now());
        await this.db.knownAddress.upsert({
          where: { userId_address: { userId: owner, address } },
          create: { userId: owner, address, lastSignedInAt },
          update: { lastSignedInAt },
        });
      },
    };
  }

  /** Makes an address known for a user (sign-up: the address the account was made from). */
  async remember(userId: string, address: string): Promise<void> {
    const lastSignedInAt = new Date(this.now());
    await this.db.knownAddress.upsert({
      where: { userId_address: { userId, address } },
      create: { userId, address, lastSignedInAt },
      update: { lastSignedInAt },
    });
  }
}

/** The wait after the account's last failure once it has `failures` within the window. */
export function accountDelayMs(limits: SignInLimits, failures: number): number {
  const doublings = Math.min(failures - limits.accountFreeFailures, 30);
  return Math.min(limits.accountDelayBaseMs * 2 ** doublings, limits.accountDelayMaxMs);
}

function rateLimited(waitMs: number): AccountsError {
  const retryAfterSeconds = Math.max(1, Math.ceil(waitMs / 1000));
  return new AccountsError('RATE_LIMITED', `Too many failed sign-ins; try again in ${retryAfterSeconds} s`, {
    retryAfterSeconds,
  });
}
