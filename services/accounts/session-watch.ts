/**
 * Tells what a session holds open (the live notification streams) that the session ended: at once
 * when this process revokes it, on the accounts database's NOTIFY when any process revokes or
 * deletes it, and at each periodic re-check, which also catches expiry and a revocation announced
 * while the listening connection was down. It LISTENs only while some session is watched.
 */
import { OnDemandListener } from '../../lib/db/listener';
import type { AccountsService } from './accounts.service';

/**
 * Where the accounts database announces, with the session's id, a session revoked or deleted: a
 * trigger on the sessions table sends it at commit (prisma/accounts/migrations/*_session_ended_notify).
 */
export const SESSION_ENDED_CHANNEL = 'storefront_session_ended';

export const DEFAULT_SESSION_WATCH_APPLICATION_NAME = 'storefront-session-watch';

export interface SessionWatchOptions {
  sessions: Pick<AccountsService, 'activeSessionIds'>;
  /**
   * The accounts database, to hear of revocations made by other processes (another API instance's
   * sign-out, an operator) as they commit. Without it they are noticed at the next re-check.
   */
  connectionString?: string;
  /** Shown in pg_stat_activity for the listening connection. */
  applicationName?: string;
  /** Interval of the re-check of every watched session (the streams' keep-alive interval). */
  recheckMs: number;
  /** Wait before reconnecting a lost listening connection. */
  retryDelayMs?: number;
  onError?: (error: unknown) => void;
}

export interface SessionWatcher {
  /** Stops watching (what it guarded closed on its own). Idempotent. */
  stop(): Promise<void>;
}

interface Watcher {
  sessionId: string;
  onEnded: () => void;
}

export class SessionWatch {
  private readonly watchers = new Map<string, Set<Watcher>>();
  private watcherCount = 0;
  /** Absent without a connection string: revocations by other processes then wait for a re-check. */
  private readonly listener?: OnDemandListener;
  private recheckTimer: NodeJS.Timeout | null = null;
  private rechecking = false;
  private closed = false;

  constructor(private readonly options: SessionWatchOptions) {
    if (options.connectionString)
      this.listener = new OnDemandListener({
        connectionString: options.connectionString,
        applicationName: options.applicationName ?? DEFAULT_SESSION_WATCH_APPLICATION_NAME,
        channel: SESSION_ENDED_CHANNEL,
        retryDelayMs: options.retryDelayMs,
        wanted: () => this.watcherCount > 0 && !this.closed,
        onNotification: (sessionId) => this.ended(sessionId),
        // Revocations announced while the connection was down are lost: ask about every session.
        onReconnected: () => void this.recheck(),
        onError: (error) => this.reportError(error),
      });
  }

  /** True while the dedicated connection is connected and LISTENing. */
  isListening(): boolean {
    return this.listener?.isListening() ?? false;
  }

  watchedTotal(): number {
    return this.watcherCount;
  }

  /**
   * Calls `onEnded` once, when the session ends. Resolves once revocations are listened for (or,
   * when the database cannot be listened to, left to the re-checks) and the session itself was
   * checked, LISTEN first: a session that ended before or while it was being watched is told too.
   */
  async watch(sessionId: string, onEnded: () => void): Promise<SessionWatcher> {
    if (this.closed) throw new Error('SessionWatch is closed');
    const watcher: Watcher = { sessionId, onEnded };
    let group = this.watchers.get(sessionId);
    if (!group) this.watchers.set(sessionId, (group = new Set()));
    group.add(watcher);
    this.watcherCount++;
    this.startRechecks();
    // Left to the re-checks (and a reconnect) when the database cannot be listened to.
    await this.listen().catch((error: unknown) => this.reportError(error));
    try {
      const active = await this.options.sessions.activeSessionIds([sessionId]);
      if (!active.has(sessionId)) this.ended(sessionId);
    } catch (error) {
      // The next re-check asks again; a session is not ended for a failed read.
      this.reportError(error);
    }
    return { stop: () => this.remove(watcher) };
  }

  /** The session ended (this process revoked it): its watchers are told now, synchronously. */
  ended(sessionId: string): void {
    const group = this.watchers.get(sessionId);
    if (!group) return;
    this.watchers.delete(sessionId);
    this.watcherCount -= group.size;
    for (const watcher of group) {
      try {
        watcher.onEnded();
      } catch (error) {
        this.reportError(error);
      }
    }
    this.afterRemoval();
  }

  /** Ends the watches of every watched session that is no longer active (revoked, expired or gone). */
  async recheck(): Promise<void> {
    if (this.rechecking || this.watcherCount === 0) return;
    this.rechecking = true;
    try {
      const sessionIds = [...this.watchers.keys()];
      const active = await this.options.sessions.activeSessionIds(sessionIds);
      for (const sessionId of sessionIds) if (!active.has(sessionId)) this.ended(sessionId);
    } catch (error) {
      this.reportError(error);
    } finally {
      this.rechecking = false;
    }
  }

  /** Drops every watcher (without telling them) and stops listening. */
  async close(): Promise<void> {
    this.closed = true;
    this.stopRechecks();
    this.watchers.clear();
    this.watcherCount = 0;
    await this.listener?.close();
  }

  private async remove(watcher: Watcher): Promise<void> {
    const group = this.watchers.get(watcher.sessionId);
    if (group?.delete(watcher)) {
      this.watcherCount--;
      if (group.size === 0) this.watchers.delete(watcher.sessionId);
    }
    if (this.watcherCount === 0) this.stopRechecks();
    await this.listen();
  }

  private afterRemoval(): void {
    if (this.watcherCount === 0) this.stopRechecks();
    this.listen().catch((error: unknown) => this.reportError(error));
  }

  private startRechecks(): void {
    if (this.recheckTimer || this.closed) return;
    this.recheckTimer = setInterval(() => void this.recheck(), this.options.recheckMs);
    this.recheckTimer.unref();
  }

  private stopRechecks(): void {
    if (this.recheckTimer) clearInterval(this.recheckTimer);
    this.recheckTimer = null;
  }

  /** Listens while some session is watched, and stops after the last. */
  private listen(): Promise<void> {
    return this.listener?.sync() ?? Promise.resolve();
  }

  private reportError(error: unknown): void {
    this.options.onError?.(error);
  }
}
