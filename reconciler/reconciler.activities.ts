/**
 * The scheduled reconciler's one activity: the same checks as `npm run ops -- reconcile`
 * (reconciler/reconcile.ts), then the record an operator works from — findings in the orders
 * database, an error-level log line, and a notification to every admin of what is new.
 */
import { log } from '@temporalio/activity';
import type { InvariantReport } from './invariants';
import type { AccountsService } from '../services/accounts/accounts.service';
import type { Finding, FindingsService } from '../services/orders/findings.service';
import type { NotifyInput, ReconcilerInput, ReconciliationResult } from '../workflows/contract';
import { signalNotification, type NotificationSignaller } from '../temporal/notification-signal';
import { INVARIANTS } from './invariants';
import type { RepairOutcome } from './repair';

/** A notification names this many new findings; the rest are in `npm run ops -- findings`. */
const NAMED_PER_NOTIFICATION = 10;

/** What an admin's dashboard shows when a run opened findings (once per run: its own dedupe key). */
export function driftNotification(
  userId: string,
  runId: string,
  opened: readonly Finding[],
  open: number,
): NotifyInput {
  const named = opened.slice(0, NAMED_PER_NOTIFICATION).map((f) => ({
    findingId: f.id,
    invariant: f.invariant,
    detail: f.detail,
    orderId: f.orderId,
    productId: f.productId,
  }));
  return {
    userId,
    kind: 'NOTIFICATION',
    type: 'reconciler.drift',
    payload: {
      runId,
      opened: named,
      openedCount: opened.length,
      openCount: open,
      message: `The reconciler found ${opened.length} new drift${opened.length === 1 ? '' : 's'} between the store's databases (${open} open): see npm run ops -- findings.`,
    },
    dedupeKey: `reconciler:run:${runId}`,
  };
}

export function createReconcilerActivities(deps: {
  /** The invariants over the databases, as the on-demand command runs them. */
  check: () => Promise<InvariantReport>;
  findings: Pick<FindingsService, 'recordRun'>;
  accounts: Pick<AccountsService, 'listAdmins'>;
  temporal: NotificationSignaller;
  /** Repairs a stranded order when that is safe without an operator (reconciler/repair.ts); absent, none is repaired. */
  repairStranded?: (orderId: string) => Promise<RepairOutcome>;
}) {
  async function runReconciliation(_input: ReconcilerInput): Promise<ReconciliationResult> {
    const startedAt = new Date();
    const report = await deps.check();
    const recorded = await deps.findings.recordRun({ startedAt, finishedAt: new Date(), report });
    const violations: Record<string, number> = {};
    for (const invariant of Object.keys(report.checked)) {
      if (!report.skipped[invariant as keyof typeof report.skipped])
        violations[invariant] = report.violations.filter((v) => v.invariant === invariant).length;
    }
    const open = recorded.opened.length + recorded.seenAgain.length;
    if (open > 0) {
      log.error('Reconciler found drift', {
        runId: recorded.runId,
        violations,
        opened: recorded.opened.map((f) => ({ findingId: f.id, key: f.key, detail: f.detail })),
        stillOpen: recorded.seenAgain.map((f) => f.id),
      });
    } else {
      log.info('Reconciler found no drift', {
        runId: recorded.runId,
        checked: report.checked,
        gone: recorded.gone.map((f) => f.id),
      });
    }
    const repaired = await repairWhatIsSafe(
      report.violations.filter((v) => v.invariant === INVARIANTS.orderHasWorkflow),
    );
    let notified = 0;
    if (recorded.opened.length > 0) {
      // Told once per run that opened something; a drift that stays is in the findings, not in a new notification every run.
      const admins = await deps.accounts.listAdmins();
      if (admins.length === 0)
        log.warn('Reconciler drift: no admin account to notify (npm run ops -- make-admin <email>)', {
          runId: recorded.runId,
        });
      for (const admin of admins)
        await signalNotification(deps.temporal, driftNotification(admin.id, recorded.runId, recorded.opened, open));
      notified = admins.length;
    }
    return {
      runId: recorded.runId,
      violations,
      skipped: Object.keys(report.skipped),
      opened: recorded.opened.length,
      seenAgain: recorded.seenAgain.length,
      gone: recorded.gone.length,
      notified,
      repaired,
    };
  }

  /** Starts a recovery run for each stranded order that is safe to repair alone; the finding stays for the rest. */
  async function repairWhatIsSafe(stranded: readonly { orderId?: string }[]): Promise<number> {
    if (!deps.repairStranded) return 0;
    let repaired = 0;
    for (const { orderId } of stranded) {
      if (!orderId) continue;
      const outcome = await deps.repairStranded(orderId);
      if (outcome.action === 'started') repaired += 1;
      log.info(outcome.action === 'started' ? 'Stranded order repaired' : 'Stranded order left to an operator', {
        orderId,
        detail: outcome.detail,
      });
    }
    return repaired;
  }

  return { runReconciliation };
}

export type ReconcilerActivities = ReturnType<typeof createReconcilerActivities>;
