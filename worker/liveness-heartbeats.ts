/**
 * Liveness heartbeats: an activity that has a heartbeat timeout (the payments ones, whose Stripe
 * calls may take long) heartbeats while it is in flight, from the worker process itself.
 *
 * A heartbeat here means "this worker is alive and still on it", not progress: a worker that dies
 * mid-charge is noticed after the heartbeat timeout (seconds) instead of the start-to-close timeout
 * (the charge's 30 s, which still bounds a call that hangs in a live worker). The retry looks the
 * charge up before anything is sent again, so retrying early never charges twice.
 */
import type { ActivityInterceptorsFactory } from '@temporalio/worker';

/** A few beats per timeout, so a busy event loop can miss one without the attempt timing out. */
const BEATS_PER_TIMEOUT = 4;

export const livenessHeartbeats: ActivityInterceptorsFactory = (context) => ({
  inbound: {
    async execute(input, next) {
      const timeoutMs = context.info.heartbeatTimeoutMs;
      if (!timeoutMs) return next(input);
      const beat = setInterval(() => context.heartbeat(), Math.max(100, Math.floor(timeoutMs / BEATS_PER_TIMEOUT)));
      try {
        return await next(input);
      } finally {
        clearInterval(beat);
      }
    },
  },
});
