/**
 * A bound on argon2 work. Every hash and verify runs on libuv's thread pool (4 threads by
 * default), which file, DNS and crypto calls of the whole process share: an unauthenticated flood
 * of sign-ins would otherwise queue without limit there and slow every other request. At most
 * `concurrency` run at once and `queue` wait; a call beyond that is refused at once with
 * AUTH_BUSY (503) rather than waiting, so the flood costs nothing more than its refusal.
 */
import { AccountsError } from './errors';

export interface PasswordWorkLimits {
  /** Hashes or verifies running at once (default 2: half of libuv's pool, so file and DNS work keep going). */
  concurrency: number;
  /** Calls waiting for a slot; one more is refused at once (default 16: about half a second of waiting at 30 ms a hash). */
  queue: number;
}

export const DEFAULT_PASSWORD_WORK: PasswordWorkLimits = { concurrency: 2, queue: 16 };

export class PasswordWork {
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly limits: PasswordWorkLimits = DEFAULT_PASSWORD_WORK) {}

  /** Runs `work` in a slot; AUTH_BUSY at once when every slot and every place in the queue is taken. */
  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.running >= this.limits.concurrency) {
      if (this.waiting.length >= this.limits.queue) {
        throw new AccountsError('AUTH_BUSY', 'Too many sign-ins at once; try again in a moment', {
          retryAfterSeconds: 1,
        });
      }
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.running++;
    }
    try {
      return await work();
    } finally {
      // The slot passes straight to the next waiter, so `running` never drops below what is running.
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }

  /** Running and waiting now (for tests and metrics). */
  load(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.waiting.length };
  }
}
