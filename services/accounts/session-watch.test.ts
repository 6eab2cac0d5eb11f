/**
 * SessionWatch on a real accounts database: a revocation committed through any connection is
 * heard on its NOTIFY (no re-check needed), a deleted user's sessions end too, a session that
 * ended before it was watched is told at once, expiry is found at the re-check, and the LISTEN
 * connection is held only while something is watched.
 */
import { randomUUID } from 'node:crypto';
import { waitUntil } from '../../devstack/waits';
import { useServiceDatabase } from '../../test/helpers/databases';
import { AccountsService } from './accounts.service';
import { createAccountsDb } from './db';
import { SessionWatch, type SessionWatchOptions } from './session-watch';

const accountsDb = useServiceDatabase('accounts', createAccountsDb);
let accounts: AccountsService;
const watches: SessionWatch[] = [];

beforeAll(() => {
  accounts = new AccountsService(accountsDb.db, { plans: { setPlan: async () => undefined } });
});
afterEach(async () => {
  await Promise.all(watches.splice(0).map((watch) => watch.close()));
});

/** A user with an open session (no password hashing: the watch only reads sessions). */
async function signedIn(): Promise<{ userId: string; sessionId: string }> {
  const userId = `w-${randomUUID().slice(0, 8)}`;
  await accountsDb.db.user.create({
    data: { id: userId, email: `${userId}@example.com`, emailKey: `${userId}@example.com`, passwordHash: 'x' },
  });
  return { userId, sessionId: (await accounts.openSession(userId)).id };
}

function watchOf(options: Partial<SessionWatchOptions> = {}): SessionWatch {
  // A re-check an hour away: only the NOTIFY (or ended()) can end a watch in time, unless a test asks.
  const watch = new SessionWatch({
    sessions: accounts,
    connectionString: accountsDb.url,
    recheckMs: 3_600_000,
    retryDelayMs: 100,
    ...options,
  });
  watches.push(watch);
  return watch;
}

const told = (ended: Set<string>, sessionId: string) => async () => ended.has(sessionId);

describe('SessionWatch', () => {
  it("hears a revocation committed through another connection on its NOTIFY, and only that session's", async () => {
    const watch = watchOf();
    const [a, b] = [await signedIn(), await signedIn()];
    const ended = new Set<string>();
    await watch.watch(a.sessionId, () => ended.add(a.sessionId));
    await watch.watch(b.sessionId, () => ended.add(b.sessionId));
    expect(watch.isListening()).toBe(true);

    const elsewhere = createAccountsDb(accountsDb.url);
    try {
      await new AccountsService(elsewhere, { plans: { setPlan: async () => undefined } }).revokeSession(a.sessionId);
    } finally {
      await elsewhere.$disconnect();
    }
    await waitUntil('the revocation to be heard', told(ended, a.sessionId), { timeoutMs: 10_000, intervalMs: 20 });
    expect([...ended]).toEqual([a.sessionId]);
    expect(watch.watchedTotal()).toBe(1);
  });

  it("hears a deleted user's sessions end", async () => {
    const watch = watchOf();
    const { userId, sessionId } = await signedIn();
    const ended = new Set<string>();
    await watch.watch(sessionId, () => ended.add(sessionId));
    await accountsDb.db.user.delete({ where: { id: userId } });
    await waitUntil('the deletion to be heard', told(ended, sessionId), { timeoutMs: 10_000, intervalMs: 20 });
  });

  it('tells at once of a session that had ended before it was watched, and of one ended in this process', async () => {
    const watch = watchOf({ connectionString: undefined });
    const revoked = await signedIn();
    await accounts.revokeSession(revoked.sessionId);
    const ended = new Set<string>();
    await watch.watch(revoked.sessionId, () => ended.add(revoked.sessionId));
    expect([...ended]).toEqual([revoked.sessionId]);

    const live = await signedIn();
    let calls = 0;
    await watch.watch(live.sessionId, () => calls++);
    await watch.watch(live.sessionId, () => calls++);
    expect(calls).toBe(0);
    watch.ended(live.sessionId);
    watch.ended(live.sessionId);
    expect(calls).toBe(2);
    expect(watch.watchedTotal()).toBe(0);
  });

  it('finds an expired session at the next re-check', async () => {
    const watch = watchOf({ connectionString: undefined, recheckMs: 50 });
    const { sessionId } = await signedIn();
    const ended = new Set<string>();
    await watch.watch(sessionId, () => ended.add(sessionId));
    expect(ended.size).toBe(0);
    // Expiry changes no row, so nothing is announced: only the re-check can see it.
    await accountsDb.db.session.update({ where: { id: sessionId }, data: { expiresAt: new Date(Date.now() - 1) } });
    await waitUntil('the re-check to find the expiry', told(ended, sessionId), { timeoutMs: 10_000, intervalMs: 20 });
  });

  it('listens only while a session is watched', async () => {
    const watch = watchOf();
    const { sessionId } = await signedIn();
    expect(watch.isListening()).toBe(false);
    const watcher = await watch.watch(sessionId, () => undefined);
    expect(watch.isListening()).toBe(true);
    await watcher.stop();
    await watcher.stop();
    expect(watch.isListening()).toBe(false);
    expect(watch.watchedTotal()).toBe(0);
  });
});
