/**
 * An open loop: arrivals at fixed times, whatever the system answers. Each arrival's latency
 * counts from its scheduled time, so a system that falls behind is charged for the wait
 * (no coordinated omission, which a closed loop has by construction: it only asks again once
 * answered). Work in flight is capped; an arrival that finds the cap full is shed and counted,
 * so an overloaded rate ends instead of piling up without bound.
 */
import { performance } from 'node:perf_hooks';

export interface Arrival {
  index: number;
  /** performance.now() when this arrival was due. */
  scheduledAt: number;
}

export interface OpenLoopResult<T> {
  results: T[];
  errors: string[];
  /** Arrivals that found `maxInFlight` arrivals still running and were not started. */
  shed: number;
  /** How late the loop itself started arrivals (the driver's own lag), ms. */
  startLagMs: number[];
  /** From the first scheduled arrival to the last one's end, seconds. */
  elapsedS: number;
}

const sleepUntil = (at: number) =>
  new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, at - performance.now())));

/**
 * `ratePerSecond` arrivals a second for `durationMs`, each running `one`; waits for those
 * started to end (each must bound its own time: the loop does not cancel them).
 */
export async function openLoop<T>(
  options: { ratePerSecond: number; durationMs: number; maxInFlight: number },
  one: (arrival: Arrival) => Promise<T>,
): Promise<OpenLoopResult<T>> {
  const results: T[] = [];
  const errors: string[] = [];
  const startLagMs: number[] = [];
  const running = new Set<Promise<void>>();
  let shed = 0;
  const intervalMs = 1000 / options.ratePerSecond;
  const count = Math.round((options.durationMs / 1000) * options.ratePerSecond);
  const begun = performance.now();
  for (let index = 0; index < count; index++) {
    const scheduledAt = begun + index * intervalMs;
    await sleepUntil(scheduledAt);
    startLagMs.push(performance.now() - scheduledAt);
    if (running.size >= options.maxInFlight) {
      shed++;
      continue;
    }
    const task = one({ index, scheduledAt }).then(
      (result) => void results.push(result),
      (error: unknown) => void errors.push(error instanceof Error ? error.message : String(error)),
    );
    running.add(task);
    void task.finally(() => running.delete(task));
  }
  await Promise.all(running);
  return { results, errors, shed, startLagMs, elapsedS: (performance.now() - begun) / 1000 };
}
