/**
 * The scheduled reconciler's record in the orders database: every drift it found, as an entry an
 * operator resolves, and each run's counts per invariant (the metric storefront_invariant_violations
 * reads the latest). docs/reconciler.md says what each status means.
 */
import { randomUUID } from 'node:crypto';
import type { OrdersDb } from './db';

export const FINDING_STATUSES = ['OPEN', 'RESOLVED', 'GONE'] as const;
export type FindingStatus = (typeof FINDING_STATUSES)[number];

/**
 * What a reconciliation run hands this record: the reconciler's report (reconciler/invariants.ts)
 * as the orders database stores it, by invariant name.
 */
type InvariantName = string;
export interface Violation {
  invariant: InvariantName;
  /** A stable identity of the drift (the same drift found again has the same key). */
  key: string;
  detail: string;
  orderId?: string;
  productId?: string;
}
export interface RunReport {
  checked: Record<InvariantName, number>;
  violations: Violation[];
  skipped: Partial<Record<InvariantName, string>>;
}

/** Who closes a finding that a later run no longer reproduces. */
export const RECONCILER_ACTOR = 'reconciler';

export interface Finding {
  id: string;
  key: string;
  invariant: InvariantName;
  orderId: string | null;
  productId: string | null;
  detail: string;
  status: FindingStatus;
  firstSeen: Date;
  lastSeen: Date;
  seenCount: number;
  closedAt: Date | null;
  closedBy: string | null;
  note: string | null;
}

export interface RecordedRun {
  runId: string;
  /** Drifts no open finding named before this run. */
  opened: Finding[];
  /** Open findings this run found again. */
  seenAgain: Finding[];
  /** Open findings this run checked for and did not find: closed as GONE. */
  gone: Finding[];
}

export interface LatestRun {
  runId: string;
  finishedAt: Date;
  /** Violations per invariant; an invariant the run skipped is absent. */
  violations: Partial<Record<InvariantName, number>>;
}

type FindingRow = NonNullable<Awaited<ReturnType<OrdersDb['reconciliationFinding']['findUnique']>>>;

function toFinding(row: FindingRow): Finding {
  return {
    id: row.id,
    key: row.key,
    invariant: row.invariant,
    orderId: row.orderId,
    productId: row.productId,
    detail: row.detail,
    status: row.status,
    firstSeen: row.firstSeen,
    lastSeen: row.lastSeen,
    seenCount: row.seenCount,
    closedAt: row.closedAt,
    closedBy: row.closedBy,
    note: row.note,
  };
}

export class FindingsService {
  constructor(private readonly db: OrdersDb) {}

  /**
   * Records one run in one transaction: the run's counts, a new OPEN finding per drift no open
   * finding names (by its stable key, so repeated runs never duplicate one), the last sighting of
   * those that are still there, and GONE for open findings of invariants the run checked that it
   * no longer found.
   */
  async recordRun(input: { startedAt: Date; finishedAt: Date; report: RunReport }): Promise<RecordedRun> {
    const { report, finishedAt } = input;
    const runId = randomUUID();
    const counts = Object.fromEntries(
      (Object.keys(report.checked) as InvariantName[])
        .filter((invariant) => !report.skipped[invariant])
        .map((invariant) => [invariant, report.violations.filter((v) => v.invariant === invariant).length]),
    );
    // Two checks can name the same subject under one invariant; one finding says both.
    const byKey = new Map<string, Violation>();
    for (const violation of report.violations) {
      const known = byKey.get(violation.key);
      byKey.set(violation.key, known ? { ...known, detail: `${known.detail}; ${violation.detail}` } : violation);
    }
    return this.db.$transaction(
      async (tx) => {
        await tx.reconciliationRun.create({
          data: {
            id: runId,
            startedAt: input.startedAt,
            finishedAt,
            checked: report.checked,
            violations: counts,
            skipped: report.skipped,
          },
        });
        const open = await tx.reconciliationFinding.findMany({ where: { status: 'OPEN' } });
        const openByKey = new Map(open.map((row) => [row.key, row]));
        const opened: Finding[] = [];
        const seenAgain: Finding[] = [];
        for (const violation of byKey.values()) {
          const known = openByKey.get(violation.key);
          if (known) {
            const row = await tx.reconciliationFinding.update({
              where: { id: known.id },
              data: { detail: violation.detail, lastSeen: finishedAt, seenCount: { increment: 1 } },
            });
            seenAgain.push(toFinding(row));
            continue;
          }
          const row = await tx.reconciliationFinding.create({
            data: {
              id: randomUUID(),
              key: violation.key,
              openKey: violation.key,
              invariant: violation.invariant,
              orderId: violation.orderId ?? null,
              productId: violation.productId ?? null,
              detail: violation.detail,
              firstSeen: finishedAt,
              lastSeen: finishedAt,
            },
          });
          opened.push(toFinding(row));
        }
        const gone: Finding[] = [];
        for (const row of open) {
          if (byKey.has(row.key) || report.skipped[row.invariant]) continue;
          const closed = await tx.reconciliationFinding.update({
            where: { id: row.id },
            data: {
              status: 'GONE',
              openKey: null,
              closedAt: finishedAt,
              closedBy: RECONCILER_ACTOR,
              note: `not found by run ${runId}`,
            },
          });
          gone.push(toFinding(closed));
        }
        return { runId, opened, seenAgain, gone };
        // A store in deep drift has thousands of findings to write; Prisma's default 5 s would cut it off.
      },
      { timeout: 60_000 },
    );
  }

  /** Findings, newest sighting first: OPEN ones by default. */
  async list(filter: { status?: FindingStatus | 'any'; limit?: number } = {}): Promise<Finding[]> {
    const status = filter.status ?? 'OPEN';
    const rows = await this.db.reconciliationFinding.findMany({
      where: status === 'any' ? {} : { status },
      orderBy: [{ lastSeen: 'desc' }, { id: 'asc' }],
      take: filter.limit ?? 100,
    });
    return rows.map(toFinding);
  }

  async get(id: string): Promise<Finding | null> {
    const row = await this.db.reconciliationFinding.findUnique({ where: { id } });
    return row ? toFinding(row) : null;
  }

  /** An operator's word: the drift is dealt with. Null when no OPEN finding has that id. */
  async resolve(id: string, input: { by: string; note?: string }): Promise<Finding | null> {
    const { count } = await this.db.reconciliationFinding.updateMany({
      where: { id, status: 'OPEN' },
      data: { status: 'RESOLVED', openKey: null, closedAt: new Date(), closedBy: input.by, note: input.note ?? null },
    });
    return count === 0 ? null : this.get(id);
  }

  /** The latest run's violations per invariant, for the metric; null before the first run. */
  async latestRun(): Promise<LatestRun | null> {
    const row = await this.db.reconciliationRun.findFirst({ orderBy: { finishedAt: 'desc' } });
    return row
      ? { runId: row.id, finishedAt: row.finishedAt, violations: row.violations as LatestRun['violations'] }
      : null;
  }
}
