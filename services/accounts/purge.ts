/**
 * The accounts database's housekeeping on a cadence, run by each API process (api/server.ts):
 * ended sessions, old sign-in failures and stale known addresses are deleted, so the tables do not
 * grow forever. Several instances purging at once is harmless: each delete is idempotent.
 */
import type { AccountsService, PurgeCounts } from './accounts.service';

export interface AccountsPurgeOptions {
  accounts: Pick<AccountsService, 'purge'>;
  /** How often (default hourly); the first purge runs one interval after the start. */
  everyMs?: number;
  /** Sessions ended (expired or revoked) longer ago than this go (default a day: an operator can still see yesterday's sign-outs). */
  keepEndedMs?: number;
  /** Sign-in failures older than this go (default a day: well past the 15-minute throttle window). */
  keepFailuresMs?: number;
  onPurged?: (counts: PurgeCounts) => void;
  onError?: (error: unknown) => void;
}

export const DEFAULT_PURGE_EVERY_MS = 3600_000;
const DAY_MS = 24 * 3600_000;

/** Starts the cadence; the function it returns stops it. */
export function startAccountsPurge(options: AccountsPurgeOptions): () => void {
  const timer = setInterval(() => {
    options.accounts
      .purge({ keepEndedMs: options.keepEndedMs ?? DAY_MS, keepFailuresMs: options.keepFailuresMs ?? DAY_MS })
      .then(options.onPurged)
      .catch((error: unknown) => options.onError?.(error));
  }, options.everyMs ?? DEFAULT_PURGE_EVERY_MS);
  // The purge never keeps a process alive that is otherwise done.
  timer.unref();
  return () => clearInterval(timer);
}
