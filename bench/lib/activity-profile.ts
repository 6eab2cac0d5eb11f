/**
 * Where the worker's cost goes, per activity type: CPU, PostgreSQL statements and round trips.
 * Installed in the bench worker process (bench/worker.ts) only when the `activities` benchmark
 * asks for it (ACTIVITY_PROFILE_ENV), since it wraps every pg query of the process.
 *
 * - CPU is process.cpuUsage() from the activity's start to its end: the whole process, so
 *   anything running meanwhile (activities side by side, workflow tasks, the SDK's own threads)
 *   is counted too. The benchmark runs one checkout at a time to keep that small; activities
 *   the saga runs side by side still count each other.
 * - A round trip is one pg `Client.query` call (each waits for its answer: pg does not pipeline),
 *   attributed to the activity whose async context issued it (AsyncLocalStorage); a statement is
 *   a round trip that is not transaction control (BEGIN, COMMIT, ROLLBACK, SAVEPOINT, ...).
 *
 * The totals are written as JSON to one file per process, a few times a second while they
 * change; the benchmark reads them before and after its checkouts.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { ActivityInterceptorsFactory } from '@temporalio/worker';
import pg from 'pg';

/** Set (to the folder for the files) in the worker's environment to turn the profile on. */
export const ACTIVITY_PROFILE_ENV = 'BENCH_ACTIVITY_PROFILE_DIR';

export interface ActivityTotals {
  calls: number;
  cpuMs: number;
  wallMs: number;
  statements: number;
  roundTrips: number;
  /** Round trips by the start of their SQL text (what the statements are, for whoever shortens them). */
  queries: Record<string, number>;
}

export type ActivityProfile = Record<string, ActivityTotals>;

const WRITE_EVERY_MS = 200;
const QUERY_SHAPE_CHARS = 100;
const TRANSACTION_CONTROL =
  /^\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE|START\s+TRANSACTION|SET\s+TRANSACTION|END)\b/i;

export function activityProfileFile(dir: string, pid: number): string {
  return path.join(dir, `activities-${pid}.json`);
}

/** The totals a worker process has written so far (empty before its first activity). */
export function readActivityProfile(dir: string, pid: number | undefined): ActivityProfile {
  if (pid === undefined) return {};
  try {
    return JSON.parse(readFileSync(activityProfileFile(dir, pid), 'utf8')) as ActivityProfile;
  } catch {
    return {};
  }
}

/** after − before, per activity type. */
export function profileBetween(before: ActivityProfile, after: ActivityProfile): ActivityProfile {
  const delta: ActivityProfile = {};
  for (const [type, totals] of Object.entries(after)) {
    const earlier = before[type];
    const calls = totals.calls - (earlier?.calls ?? 0);
    if (calls <= 0) continue;
    delta[type] = {
      calls,
      cpuMs: totals.cpuMs - (earlier?.cpuMs ?? 0),
      wallMs: totals.wallMs - (earlier?.wallMs ?? 0),
      statements: totals.statements - (earlier?.statements ?? 0),
      roundTrips: totals.roundTrips - (earlier?.roundTrips ?? 0),
      queries: Object.fromEntries(
        Object.entries(totals.queries)
          .map(([text, count]) => [text, count - (earlier?.queries[text] ?? 0)] as const)
          .filter(([, count]) => count > 0),
      ),
    };
  }
  return delta;
}

function queryText(config: unknown): string {
  if (typeof config === 'string') return config;
  if (config && typeof config === 'object' && 'text' in config && typeof config.text === 'string') return config.text;
  return '';
}

/** Counts this process's pg round trips per activity and returns the interceptor that times each activity. */
export function installActivityProfile(dir: string): ActivityInterceptorsFactory {
  const file = activityProfileFile(dir, process.pid);
  const totals: ActivityProfile = {};
  const current = new AsyncLocalStorage<ActivityTotals>();
  let changed = false;

  const query = pg.Client.prototype.query as (...args: unknown[]) => unknown;
  pg.Client.prototype.query = function countedQuery(this: pg.Client, ...args: unknown[]) {
    const entry = current.getStore();
    if (entry) {
      const text = queryText(args[0]);
      const shape = text.replace(/\s+/g, ' ').trim().slice(0, QUERY_SHAPE_CHARS);
      entry.roundTrips += 1;
      entry.queries[shape] = (entry.queries[shape] ?? 0) + 1;
      if (!TRANSACTION_CONTROL.test(text)) entry.statements += 1;
    }
    return query.apply(this, args);
  } as typeof pg.Client.prototype.query;

  setInterval(() => {
    if (!changed) return;
    changed = false;
    writeFileSync(`${file}.tmp`, JSON.stringify(totals));
    renameSync(`${file}.tmp`, file);
  }, WRITE_EVERY_MS).unref();

  return (ctx) => ({
    inbound: {
      async execute(input, next) {
        const type = ctx.info.activityType;
        const entry = (totals[type] ??= { calls: 0, cpuMs: 0, wallMs: 0, statements: 0, roundTrips: 0, queries: {} });
        const cpu = process.cpuUsage();
        const begun = performance.now();
        try {
          return await current.run(entry, () => next(input));
        } finally {
          const used = process.cpuUsage(cpu);
          entry.calls += 1;
          entry.cpuMs += (used.user + used.system) / 1000;
          entry.wallMs += performance.now() - begun;
          changed = true;
        }
      },
    },
  });
}
