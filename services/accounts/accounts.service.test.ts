import { useServiceDatabase } from '../../test/helpers/databases';
import { errorOf } from '../../test/helpers/rejections';
import { createQuotaDb } from '../quota/db';
import { QuotaService } from '../quota/quota.service';
import { AccountsError, AccountsService } from './accounts.service';
import { createAccountsDb } from './db';
import { decoyHash, hashPassword, verifyPassword } from './passwords';

const accountsDb = useServiceDatabase('accounts', createAccountsDb);
const quotaDb = useServiceDatabase('quota', createQuotaDb);
let quota: QuotaService;
let accounts: AccountsService;

// argon2id is slow on purpose; a busy 2-core machine makes it slower.
jest.setTimeout(60_000);

const LIMITS = {
  perAccountAddress: 3,
  perAddress: 5,
  windowMs: 60_000,
  accountFreeFailures: 4,
  accountDelayBaseMs: 1_000,
  accountDelayMaxMs: 4_000,
  knownAddressMs: 24 * 3600_000,
};

beforeAll(() => {
  quota = new QuotaService(quotaDb.db);
  accounts = new AccountsService(accountsDb.db, { plans: quota, signInLimits: LIMITS });
});

let counter = 0;
const uniqueEmail = (name: string) => `${name}.${Date.now().toString(36)}${counter++}@example.com`;

describe('passwords', () => {
  it('hashes with argon2id and a fresh salt, and verifies only the right password', async () => {
    const [first, second] = await Promise.all([
      hashPassword('correct horse battery'),
      hashPassword('correct horse battery'),
    ]);
    expect(first).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    expect(first).not.toBe(second);
    expect(await verifyPassword(first, 'correct horse battery')).toBe(true);
    expect(await verifyPassword(first, 'correct horse batterY')).toBe(false);
    expect(await verifyPassword('not a hash', 'correct horse battery')).toBe(false);
  });

  it('stores only the hash', async () => {
    const email = uniqueEmail('hash');
    const account = await accounts.createAccount({ email, password: 'a long enough secret' });
    const row = await accountsDb.db.user.findUniqueOrThrow({ where: { id: account.id } });
    expect(row.passwordHash).toMatch(/^\$argon2id\$/);
    expect(JSON.stringify(row)).not.toContain('a long enough secret');
  });
});

describe('sign-up', () => {
  it('creates a user with the user role and the free plan, whatever else exists', async () => {
    const email = uniqueEmail('Dana');
    const account = await accounts.createAccount({ email, password: 'sufficiently long' });
    expect(account).toEqual({ id: expect.stringMatching(/^[0-9a-f-]{36}$/), email, role: 'user', plan: 'free' });
  });

  it('lets exactly one of concurrent sign-ups for one address win, whatever its case', async () => {
    const email = uniqueEmail('race');
    const spellings = [email, email.toUpperCase(), email.replace(/^r/, 'R'), ` ${email} `, email.toLowerCase()];
    const outcomes = await Promise.allSettled(
      spellings.map((spelling) => accounts.createAccount({ email: spelling, password: 'racing password 1' })),
    );
    const won = outcomes.filter((outcome) => outcome.status === 'fulfilled');
    const lost = outcomes.filter((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost.map((outcome) => (outcome.reason as AccountsError).code)).toEqual([
      'EMAIL_TAKEN',
      'EMAIL_TAKEN',
      'EMAIL_TAKEN',
      'EMAIL_TAKEN',
    ]);
    expect(await accountsDb.db.user.count({ where: { emailKey: email.toLowerCase() } })).toBe(1);
  });

  it('refuses a malformed address and a short password, creating nothing', async () => {
    const before = await accountsDb.db.user.count();
    expect(
      (await errorOf(AccountsError, accounts.createAccount({ email: 'not-an-address', password: 'long enough pw' })))
        .code,
    ).toBe('INVALID_EMAIL');
    expect(
      (await errorOf(AccountsError, accounts.createAccount({ email: uniqueEmail('short'), password: 'nine char' })))
        .code,
    ).toBe('WEAK_PASSWORD');
    expect(await accountsDb.db.user.count()).toBe(before);
  });
});

describe('sign-in', () => {
  it('accepts the password under any case of the address, and refuses a wrong password and an unknown address alike', async () => {
    const email = uniqueEmail('erin');
    const created = await accounts.createAccount({ email, password: 'erin password!' });
    expect(
      await accounts.verifyCredentials({ email: email.toUpperCase(), password: 'erin password!', address: '10.0.0.1' }),
    ).toEqual(created);
    const wrong = await errorOf(
      AccountsError,
      accounts.verifyCredentials({ email, password: 'erin password?', address: '10.0.0.1' }),
    );
    const unknown = await errorOf(
      AccountsError,
      accounts.verifyCredentials({ email: uniqueEmail('nobody'), password: 'erin password!', address: '10.0.0.1' }),
    );
    expect([wrong.code, wrong.message]).toEqual([unknown.code, unknown.message]);
    expect(wrong.code).toBe('INVALID_CREDENTIALS');
  });

  it('spends the same argon2 work on an unknown email as on a wrong password: a decoy hash of the same parameters', async () => {
    const email = uniqueEmail('timing');
    const account = await accounts.createAccount({ email, password: 'timing password' });
    const stored = (await accountsDb.db.user.findUniqueOrThrow({ where: { id: account.id } })).passwordHash;
    // `$argon2id$v=19$m=…,t=…,p=…$salt$hash`: algorithm, version, memory, passes and lanes are what the work costs.
    const cost = (hash: string) => hash.split('$').slice(1, 4).join('$');
    expect(cost(stored)).toMatch(/^argon2id\$v=19\$m=\d+,t=\d+,p=\d+$/);
    expect(cost(await decoyHash())).toBe(cost(stored));
    // The decoy is a real hash that no password matches, so the unknown email is refused after the same verify.
    expect(await verifyPassword(await decoyHash(), 'timing password')).toBe(false);
  });

  it('stops one address guessing an account without locking the account: the owner signs in from another address', async () => {
    const email = uniqueEmail('frank');
    await accounts.createAccount({ email, password: 'frank password', address: '10.1.1.1' });
    const attacker = '10.1.0.66';
    const codes: string[] = [];
    for (let attempt = 0; attempt < LIMITS.perAccountAddress + 2; attempt++) {
      codes.push(
        (
          await errorOf(
            AccountsError,
            accounts.verifyCredentials({ email, password: `guess ${attempt}`, address: attacker }),
          )
        ).code,
      );
    }
    expect(codes).toEqual([
      ...Array(LIMITS.perAccountAddress).fill('INVALID_CREDENTIALS'),
      'RATE_LIMITED',
      'RATE_LIMITED',
    ]);
    // Even the right password is not checked from the attacker's address...
    const refused = await errorOf(
      AccountsError,
      accounts.verifyCredentials({ email, password: 'frank password', address: attacker }),
    );
    expect(refused.code).toBe('RATE_LIMITED');
    expect(refused.details?.retryAfterSeconds).toBeGreaterThan(0);
    // ...but the owner, elsewhere, is not concerned: from the address they signed up from, and from a new one.
    expect(await accounts.verifyCredentials({ email, password: 'frank password', address: '10.1.1.1' })).toMatchObject({
      email,
    });
    expect(await accounts.verifyCredentials({ email, password: 'frank password', address: '10.1.1.2' })).toMatchObject({
      email,
    });
  });

  it('counts parallel wrong attempts exactly: no more than the limit reach the password check', async () => {
    const email = uniqueEmail('swarm');
    await accounts.createAccount({ email, password: 'swarm password' });
    const outcomes = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        errorOf(AccountsError, accounts.verifyCredentials({ email, password: `parallel ${i}`, address: '10.3.0.1' })),
      ),
    );
    const codes = outcomes.map((error) => error.code).sort();
    expect(codes).toEqual([
      ...Array(LIMITS.perAccountAddress).fill('INVALID_CREDENTIALS'),
      ...Array(10 - LIMITS.perAccountAddress).fill('RATE_LIMITED'),
    ]);
    expect(await accountsDb.db.signInFailure.count({ where: { emailKey: email.toLowerCase() } })).toBe(
      LIMITS.perAccountAddress,
    );
  });

  it('delays an account under attack from many addresses, doubling per failure, but never from an address it signed in from', async () => {
    let now = Date.now();
    const clocked = new AccountsService(accountsDb.db, { plans: quota, signInLimits: LIMITS, now: () => now });
    const email = uniqueEmail('gale');
    await clocked.createAccount({ email, password: 'gale password', address: '10.4.1.1' });
    const attempt = (password: string, address: string) => clocked.verifyCredentials({ email, password, address });
    const refusal = async (password: string, address: string) => {
      const error = await errorOf(AccountsError, attempt(password, address));
      return [error.code, error.details?.retryAfterSeconds];
    };
    // Each address stays under its own limit; the account's failures add up.
    for (let i = 0; i < LIMITS.accountFreeFailures; i++) {
      expect(await refusal(`guess ${i}`, `10.4.0.${i}`)).toEqual(['INVALID_CREDENTIALS', undefined]);
    }
    expect(await refusal('guess x', '10.4.0.50')).toEqual(['RATE_LIMITED', 1]);
    // The owner at a known address is not delayed.
    expect(await attempt('gale password', '10.4.1.1')).toMatchObject({ email });
    now += 1_000;
    expect(await refusal('guess y', '10.4.0.51')).toEqual(['INVALID_CREDENTIALS', undefined]);
    expect(await refusal('guess z', '10.4.0.52')).toEqual(['RATE_LIMITED', 2]);
    now += 2_000;
    expect(await refusal('guess z', '10.4.0.52')).toEqual(['INVALID_CREDENTIALS', undefined]);
    // Capped: the delay never exceeds accountDelayMaxMs, however many failures.
    now += 4_000;
    expect(await refusal('guess w', '10.4.0.53')).toEqual(['INVALID_CREDENTIALS', undefined]);
    expect(await refusal('guess v', '10.4.0.54')).toEqual(['RATE_LIMITED', 4]);
    // A new address of the owner waits the delay, then signs in: slowed, never locked.
    now += 4_000;
    expect(await attempt('gale password', '10.4.2.2')).toMatchObject({ email });
  });

  it('refuses an address that fails for many accounts', async () => {
    const address = '10.2.0.1';
    for (let attempt = 0; attempt < LIMITS.perAddress; attempt++) {
      await errorOf(
        AccountsError,
        accounts.verifyCredentials({ email: uniqueEmail('spray'), password: 'whatever123', address }),
      );
    }
    const email = uniqueEmail('gina');
    await accounts.createAccount({ email, password: 'gina password' });
    expect(
      (await errorOf(AccountsError, accounts.verifyCredentials({ email, password: 'gina password', address }))).code,
    ).toBe('RATE_LIMITED');
    expect(await accounts.verifyCredentials({ email, password: 'gina password', address: '10.2.0.2' })).toMatchObject({
      email,
    });
  });
});

describe('sessions', () => {
  it('are active until revoked, and revoking twice is harmless', async () => {
    const account = await accounts.createAccount({ email: uniqueEmail('hal'), password: 'hal password' });
    const session = await accounts.openSession(account.id);
    expect(await accounts.activeSession(session.id)).toMatchObject({ id: session.id, userId: account.id, account });
    await accounts.revokeSession(session.id);
    await accounts.revokeSession(session.id);
    expect(await accounts.activeSession(session.id)).toBeNull();
  });

  it('carry the role as it is now, not as it was at sign-in', async () => {
    const email = uniqueEmail('ida');
    const account = await accounts.createAccount({ email, password: 'ida password' });
    const session = await accounts.openSession(account.id);
    await accounts.setRole(email, 'admin');
    expect((await accounts.activeSession(session.id))?.account.role).toBe('admin');
  });

  it('expire', async () => {
    const short = new AccountsService(accountsDb.db, { plans: quota, sessionTtlMs: 1 });
    const account = await short.createAccount({ email: uniqueEmail('jo'), password: 'jo password!' });
    const session = await short.openSession(account.id);
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(await short.activeSession(session.id)).toBeNull();
    expect(await short.activeSession('00000000-0000-4000-8000-000000000000')).toBeNull();
  });
});

describe('password change, sign-out everywhere and the purge', () => {
  it('a password change needs the current password and ends every other session of the user, not the one asking', async () => {
    const email = uniqueEmail('mia');
    const account = await accounts.createAccount({ email, password: 'mia password 1' });
    const [here, phone, laptop] = await Promise.all([1, 2, 3].map(() => accounts.openSession(account.id)));
    const other = await accounts.createAccount({ email: uniqueEmail('ned'), password: 'ned password 1' });
    const theirs = await accounts.openSession(other.id);
    const change = (currentPassword: string, newPassword: string) =>
      accounts.changePassword({
        userId: account.id,
        sessionId: here!.id,
        currentPassword,
        newPassword,
        address: '10.5.0.1',
      });

    expect((await errorOf(AccountsError, change('not my password', 'mia password 2'))).code).toBe(
      'CURRENT_PASSWORD_WRONG',
    );
    expect((await errorOf(AccountsError, change('mia password 1', 'short'))).code).toBe('WEAK_PASSWORD');
    expect(await accounts.activeSessionIds([here!.id, phone!.id, laptop!.id])).toEqual(
      new Set([here!.id, phone!.id, laptop!.id]),
    );

    const { endedSessions } = await change('mia password 1', 'mia password 2');
    expect(new Set(endedSessions)).toEqual(new Set([phone!.id, laptop!.id]));
    expect(await accounts.activeSessionIds([here!.id, phone!.id, laptop!.id, theirs.id])).toEqual(
      new Set([here!.id, theirs.id]),
    );
    expect(
      (
        await errorOf(
          AccountsError,
          accounts.verifyCredentials({ email, password: 'mia password 1', address: '10.5.0.1' }),
        )
      ).code,
    ).toBe('INVALID_CREDENTIALS');
    expect(await accounts.verifyCredentials({ email, password: 'mia password 2', address: '10.5.0.1' })).toMatchObject({
      email,
    });
  });

  it("revoking a user's sessions ends all of theirs and no one else's", async () => {
    const email = uniqueEmail('ola');
    const account = await accounts.createAccount({ email, password: 'ola password 1' });
    const mine = await Promise.all([1, 2].map(() => accounts.openSession(account.id)));
    const other = await accounts.createAccount({ email: uniqueEmail('pia'), password: 'pia password 1' });
    const theirs = await accounts.openSession(other.id);
    expect(await accounts.revokeSessionsByEmail(email.toUpperCase())).toMatchObject({ ended: 2 });
    expect(await accounts.activeSessionIds([...mine.map((s) => s.id), theirs.id])).toEqual(new Set([theirs.id]));
    expect(await accounts.revokeSessionsByEmail(email)).toMatchObject({ ended: 0 });
  });

  it('the purge deletes sessions ended long enough ago and old sign-in failures, and keeps the rest', async () => {
    let now = Date.now();
    const clocked = new AccountsService(accountsDb.db, {
      plans: quota,
      signInLimits: LIMITS,
      sessionTtlMs: 60_000,
      now: () => now,
    });
    const email = uniqueEmail('quin');
    const account = await clocked.createAccount({ email, password: 'quin password', address: '10.6.0.1' });
    const expiring = await clocked.openSession(account.id);
    const revoked = await clocked.openSession(account.id);
    await clocked.revokeSession(revoked.id);
    await errorOf(AccountsError, clocked.verifyCredentials({ email, password: 'wrong one!', address: '10.6.0.2' }));
    const failures = () => accountsDb.db.signInFailure.count({ where: { emailKey: email.toLowerCase() } });
    expect(await failures()).toBe(1);

    const keep = { keepEndedMs: 3_600_000, keepFailuresMs: 3_600_000 };
    const sessions = () => accountsDb.db.session.findMany({ where: { userId: account.id }, select: { id: true } });
    // Nothing is old enough yet.
    await clocked.purge(keep);
    expect((await sessions()).length).toBe(2);
    expect(await failures()).toBe(1);
    // Two hours on: the session expired long ago, the revoked one too; so is the failure.
    now += 2 * 3_600_000;
    const fresh = await clocked.openSession(account.id);
    const purged = await clocked.purge(keep);
    expect(purged).toMatchObject({ sessions: expect.any(Number), signInFailures: expect.any(Number) });
    expect((await sessions()).map((s) => s.id)).toEqual([fresh.id]);
    expect(await failures()).toBe(0);
    expect(await clocked.activeSession(expiring.id)).toBeNull();
  });
});

describe('links by mail', () => {
  it('a reset link works once, even used twice at once, and not after it expires', async () => {
    let now = Date.now();
    const clocked = new AccountsService(accountsDb.db, { plans: quota, now: () => now });
    const email = uniqueEmail('tess');
    await clocked.createAccount({ email, password: 'tess password' });
    const link = (await clocked.createPasswordReset(email))!;
    expect(await clocked.createPasswordReset(uniqueEmail('nobody'))).toBeNull();
    // One link a minute per account: a stranger cannot fill the mailbox.
    expect(await clocked.createPasswordReset(email)).toBeNull();
    const outcomes = await Promise.allSettled([
      clocked.resetPassword(link.token, 'tess password 2'),
      clocked.resetPassword(link.token, 'tess password 3'),
    ]);
    expect(outcomes.map((outcome) => outcome.status).sort()).toEqual(['fulfilled', 'rejected']);
    const lost = outcomes.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected')!;
    expect((lost.reason as AccountsError).code).toBe('LINK_INVALID');

    now += 2 * 60_000;
    const late = (await clocked.createPasswordReset(email))!;
    now += 31 * 60_000;
    expect((await errorOf(AccountsError, clocked.resetPassword(late.token, 'tess password 4'))).code).toBe(
      'LINK_INVALID',
    );
  });
});

describe('plans', () => {
  it('a plan change is seen by the quota check', async () => {
    const email = uniqueEmail('kim');
    const account = await accounts.createAccount({ email, password: 'kim password' });
    const use = (key: string) =>
      quota.recordUsage({ userId: account.id, resource: 'orders', quantity: 20, idempotencyKey: key });
    await use('first-20');
    await expect(use('next-20')).rejects.toMatchObject({ code: 'QUOTA_EXCEEDED' });
    expect(await accounts.setPlan(email, 'pro')).toMatchObject({ plan: 'pro' });
    expect((await quota.getQuota(account.id)).plan).toBe('pro');
    await expect(use('next-20')).resolves.toMatchObject({ used: 40, overLimit: false });
  });

  it('an unknown plan changes neither service', async () => {
    const email = uniqueEmail('lee');
    const account = await accounts.createAccount({ email, password: 'lee password' });
    await expect(accounts.setPlan(email, 'platinum')).rejects.toMatchObject({ code: 'UNKNOWN_PLAN' });
    expect(await accounts.findById(account.id)).toMatchObject({ plan: 'free' });
    expect((await quota.getQuota(account.id)).plan).toBe('free');
  });
});
