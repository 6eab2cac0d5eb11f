/**
 * `npm run ops -- <command>`: operate orders from a terminal, through Temporal alone.
 *
 *   list [--status S] [--customer ID] [--limit N] [--json]   orders by status (default NEEDS_ATTENTION)
 *   show <orderId> [--json]                                  state, memo, summary, current step, step timeline
 *   list --email ADDRESS | show --payment-intent pi_...      a customer's orders by email, the order of a PaymentIntent (ops/lookups.ts)
 *   cancel <orderId> --reason TEXT                           cancel an unpaid order as its customer would (ops/cancel.ts)
 *   retry <orderId> [--note TEXT] [--wait SECONDS]           run the failed compensation again (an update: accepted or refused at once)
 *   resolve <orderId> [--note TEXT] [--wait SECONDS]         the compensation was done by hand; finish unwinding
 *   retry|resolve --all|--failure TEXT [--dry-run] [--note TEXT]   every parked order (whose failure contains TEXT) (ops/operator-actions.ts)
 *   reconcile [--json] [--grace-seconds N]                   check the store's cross-database invariants now (exit 1 on drift)
 *   repair <orderId>                                         start a recovery run of a stranded order (reconciler/repair.ts)
 *   refund <orderId> [--lines P:Q,...|--amount CENTS] --reason TEXT [--restock]   refund a sold order (ops/refunds.ts)
 *   findings [--status S] | resolve-finding <id> --note TEXT the scheduled reconciler's findings (ops/findings.ts)
 *   make-admin <email> | revoke-admin <email> | set-plan <email> <plan> | revoke-sessions <email>   accounts (ops/accounts.ts)
 *   prepare-namespace [--retention-days N]                   create the namespace where allowed, register OrderStatus and CustomerId
 *   versions [--deployment NAME] [--json]                    each worker version: routing status, open orders, whether it can stop
 *   set-current <buildId> [--deployment NAME] [--ignore-missing-task-queues] [--skip-replay-check]   replay-check, then route new orders to that worker version (ops/versions.ts)
 *   set-ramping <buildId> <percent> [--deployment NAME] [...set-current's flags]   send that share of new orders to a version (ops/versions.ts)
 *   wait-drained <buildId> [--timeout 1h] [--deployment NAME]   wait until no open order is pinned to that version (exit 2 on timeout)
 *   replay-check [--since 7d] [--limit N] [--type T] [--dir FOLDER]   replay recent (or exported) histories against this workflow code (ops/replay-check.ts)
 *   what-if <orderId> cancel|expire [--json]                the undos a cancel or the deadline would run now, in order, running none (ops/what-if.ts)
 *   what-if <orderId> refund [the refund's flags] [--json]  the steps that refund would run, in order, running none (ops/what-if-refund.ts)
 *   stuck [--older-than 10m] [--attempts N] [--limit N] [--json]   orders with an activity retrying, open past their deadline, or stranded (ops/stuck.ts)
 *
 * TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE and the TLS / API key settings say which Temporal
 * (temporal/connection.ts); PAYLOAD_ENCRYPTION_KEYS lets `show` read encrypted orders. Exit codes:
 * 0 done, 1 refused or failed, 2 `--wait` ran out before the order closed.
 */
import type { Client, Connection } from '@temporalio/client';
import { DefaultLogger, Runtime, type WorkflowBundleOption } from '@temporalio/worker';
import os from 'node:os';
import { databaseUrlsFromEnv, loadSettings } from '../lib/config';
import { AccountsService } from '../services/accounts/accounts.service';
import { createAccountsDb } from '../services/accounts/db';
import { createQuotaDb } from '../services/quota/db';
import { QuotaService } from '../services/quota/quota.service';
import { ACCOUNT_COMMANDS, ACCOUNT_USAGE, runAccountCommand } from '../ops/accounts';
import { FINDING_COMMANDS, FINDING_USAGE, runFindingCommand } from '../ops/findings';
import { parseRefundArgs, REFUND_COMMANDS, REFUND_USAGE, refundRequestOf, runRefundCommand } from '../ops/refunds';
import { formatRefundWhatIf, whatIfRefund } from '../ops/what-if-refund';
import { RefundClient } from '../temporal/refund-client';
import { createOrdersDb } from '../services/orders/db';
import { FindingsService } from '../services/orders/findings.service';
import { connectClient, createClient, TemporalSettingsError, temporalSettingsFromEnv } from '../temporal/connection';
import { formatReport, reconcile } from '../reconciler/reconcile';
import { repairOrder } from '../reconciler/repair';
import { openServices } from '../services';
import { checkoutRunning } from '../temporal/checkout-client';
import {
  listVersions,
  setCurrentVersion,
  setRampingVersion,
  waitDrained,
  type DeploymentListing,
} from '../ops/versions';
import {
  currentWorkflowCode,
  fetchRecentHistories,
  formatReplayReport,
  historiesFromDir,
  replayHistories,
  type HistoryToReplay,
} from '../ops/replay-check';
import { parseDuration } from '../ops/durations';
import { findStuckOrders, formatStuck } from '../ops/stuck';
import { formatWhatIf, parseWhatIfAction, whatIf } from '../ops/what-if';
import { cancelOrder } from '../ops/cancel';
import { accountOfEmail, lookupsOver, paymentOfIntent, type Lookups } from '../ops/lookups';
import { batchSelection, decideBatch, failureText, sendDecision } from '../ops/operator-actions';
import { INVARIANTS } from '../reconciler/invariants';
import { Pool } from 'pg';
import { WorkerDeploymentError } from '../worker/deployment';
import {
  listOrders,
  OperationError,
  ORDER_STATUSES,
  ordersQuery,
  prepareNamespace,
  showOrder,
  waitForOrder,
  type OrderDetails,
  type OrderListing,
} from '../ops/orders';
import { formatMoney } from '../workflows/checkout/summaries';
import type { OrderStatus } from '../workflows/contract';

const USAGE = `usage: npm run ops -- <command>
  list [--status S] [--customer ID] [--limit N] [--json]   orders by status (default NEEDS_ATTENTION; --status any for all)
  show <orderId> [--json]                                  state, memo, summary, current step and step timeline
  list --email ADDRESS [--status S] [--json]               the orders of the customer with that email (accounts service); all statuses
                                                           unless --status (so too for --customer)
  show --payment-intent pi_... [--json]                    the order a Stripe PaymentIntent paid for (payments service), as show shows it
  cancel <orderId> --reason TEXT                           cancel an order awaiting payment through the customer's own path (the same
                                                           update and unwind); the reason goes into the order's history; refused for
                                                           an order that is paid, ended or unknown
  retry <orderId> [--note TEXT] [--wait SECONDS]           run the failed compensation again
  resolve <orderId> [--note TEXT] [--wait SECONDS]         it was undone by hand: record that and finish unwinding
                                                           (each an update the order accepts or refuses at once: exit 1 if refused)
  retry|resolve --all|--failure TEXT [--dry-run]           every NEEDS_ATTENTION order (whose failure contains TEXT), one by one;
    [--note TEXT] [--limit N]                              --dry-run lists them and sends nothing; exit 1 if any refused
  prepare-namespace [--retention-days N]                   create the namespace where allowed (default retention 7 days),
                                                           register the OrderStatus and CustomerId search attributes
  versions [--deployment NAME] [--json]                    each worker version of the deployment: current, ramping, draining...,
                                                           its open checkouts and whether its workers can be stopped
  set-current <buildId> [--deployment NAME]                make that worker version current: new orders start on it; refused while
    [--ignore-missing-task-queues] [--skip-replay-check]   its workers poll fewer task queues than the current version's, or when
                                                           replay-check fails for the histories that version would run
  set-ramping <buildId> <percent>                          send <percent> (0 to 100) of new orders to that worker version, the rest to
    [--deployment NAME] [--ignore-missing-task-queues]     the current one; the same gate and refusals as set-current
    [--skip-replay-check]
  wait-drained <buildId> [--timeout 1h]                    wait until that version can stop: not current or ramping, no open
    [--deployment NAME]                                    order pinned to it (visibility); exit 2 when --timeout passes first
  replay-check [--since 7d] [--limit N] [--type T]         replay the namespace's recent histories (open, or closed within --since;
    [--dir FOLDER]                                         at most N per type, default 100) against this workflow code (WORKFLOW_BUNDLE
                                                           or workflows/); --dir replays exported .json histories; exit 1 on a divergence
  what-if <orderId> cancel|expire [--json]                 what a cancel, or the deadline, would undo now: each undo in order with its
                                                           activity, idempotency key and amount or units, then the final status; runs none
  what-if <orderId> refund [--lines P:Q,...|--amount CENTS] --reason TEXT [--restock] [--key KEY] [--json]
                                                           what that refund command would run: its refund id, each step in order with
                                                           its activities, idempotency keys, amount and units; runs none; exit 1 if refused
  stuck [--older-than 10m] [--attempts N] [--limit N]      orders not moving: an activity on attempt N+ (default 5) with its last failure,
    [--json]                                               open past their deadline, or stranded (no running checkout) for over
                                                           --older-than; exit 1 when there is one
${ACCOUNT_USAGE}
${REFUND_USAGE}
  reconcile [--json] [--grace-seconds N]                   check the store's invariants across the databases now; exit 1 on drift;
                                                           rows younger than the grace (default 60 s) are in flight, not drift
  repair <orderId>                                         a stranded order (not ended, no running checkout): start a recovery run
                                                           that adopts it as the services record it and resumes or unwinds it
${FINDING_USAGE}
statuses: ${ORDER_STATUSES.join(', ')}
environment: the Temporal CLI's settings and temporal.toml profiles: TEMPORAL_ADDRESS (127.0.0.1:7233), TEMPORAL_NAMESPACE
  (default), TEMPORAL_PROFILE, TEMPORAL_TLS_CLIENT_CERT_PATH, TEMPORAL_API_KEY... (docs/configuration.md); PAYLOAD_ENCRYPTION_KEYS;
  for --email and --payment-intent DATABASE_URL or ACCOUNTS_/PAYMENTS_DATABASE_URL;
  TEMPORAL_DEPLOYMENT_NAME, the workers' deployment, when --deployment is not given (docs/changing-workflows.md);
  for accounts DATABASE_URL or ACCOUNTS_/QUOTA_DATABASE_URL, for findings ORDERS_DATABASE_URL`;

interface Parsed {
  command: string | undefined;
  positional: string[];
  flags: Map<string, string | true>;
}

const VALUE_FLAGS = new Set([
  'grace-seconds',
  'status',
  'customer',
  'limit',
  'note',
  'wait',
  'retention-days',
  'deployment',
  'since',
  'type',
  'dir',
  'older-than',
  'attempts',
  'email',
  'payment-intent',
  'reason',
  'failure',
  'timeout',
]);

const BOOLEAN_FLAGS = new Set(['json', 'help', 'ignore-missing-task-queues', 'skip-replay-check', 'all', 'dry-run']);

export function parseArgs(argv: readonly string[]): Parsed {
  const positional: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const [name, inline] = arg.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    if (VALUE_FLAGS.has(name)) {
      const value = inline ?? argv[++i];
      if (value === undefined) throw new OperationError(`--${name} needs a value`);
      flags.set(name, value);
    } else if (BOOLEAN_FLAGS.has(name)) {
      flags.set(name, true);
    } else {
      throw new OperationError(`unknown option --${name}`);
    }
  }
  return { command: positional.shift(), positional, flags };
}

function text(flags: Parsed['flags'], name: string): string | undefined {
  const value = flags.get(name);
  return typeof value === 'string' ? value : undefined;
}

function positiveInteger(flags: Parsed['flags'], name: string, fallback: number): number {
  const raw = text(flags, name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0)
    throw new OperationError(`--${name} must be a positive whole number, got "${raw}"`);
  return value;
}

function requireOrderId(parsed: Parsed): string {
  const orderId = parsed.positional[0];
  if (!orderId) throw new OperationError(`${parsed.command} needs an order id\n${USAGE}`);
  // The workflow id is accepted too, as copied from the Web UI.
  return orderId.replace(/^order-/, '');
}

function money(order: { totalCents?: number; currency?: string }): string {
  return order.totalCents === undefined || !order.currency ? '' : formatMoney(order.totalCents, order.currency);
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows
    .map((row) =>
      row
        .map((cell, column) => cell.padEnd(widths[column]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export function formatListing(orders: readonly OrderListing[], query: string): string {
  if (orders.length === 0) return `no orders match ${query}`;
  const rows = orders.map((order) => [
    order.orderId,
    order.status ?? '?',
    order.customerId ?? '?',
    money(order),
    order.execution,
    order.startTime.replace(/\.\d+Z$/, 'Z'),
  ]);
  return `${table([['ORDER', 'STATUS', 'CUSTOMER', 'TOTAL', 'WORKFLOW', 'STARTED'], ...rows])}\n${orders.length} order(s) matching ${query}`;
}

/** The deployment a versions command is about: --deployment, else the one the workers are configured with. */
function deploymentName(parsed: Parsed, env: NodeJS.ProcessEnv): string {
  const name = text(parsed.flags, 'deployment') ?? env.TEMPORAL_DEPLOYMENT_NAME?.trim();
  if (!name) throw new OperationError(`${parsed.command} needs --deployment NAME (or TEMPORAL_DEPLOYMENT_NAME)`);
  return name;
}

export function formatVersions(listing: DeploymentListing): string {
  const rows = listing.versions.map((version) => [
    version.buildId,
    version.rampPercentage === undefined ? version.status : `${version.status} ${version.rampPercentage}%`,
    String(version.openCheckouts),
    String(version.openPinned),
    version.canStop ? 'yes' : 'no',
    version.taskQueues.join(',') || '-',
  ]);
  const lines = [table([['BUILD', 'STATUS', 'OPEN CHECKOUTS', 'OPEN PINNED', 'CAN STOP', 'TASK QUEUES'], ...rows])];
  if (listing.unversionedOpenCheckouts > 0) {
    lines.push(
      `${listing.unversionedOpenCheckouts} open checkout(s) started unversioned: keep an unversioned worker until they end`,
    );
  }
  lines.push(
    `deployment ${listing.deploymentName}: ${listing.versions.length} version(s); a version can stop once nothing routes to it and no open workflow is pinned to it`,
  );
  return lines.join('\n');
}

const OUTCOME_MARKS: Record<string, string> = {
  completed: '✓',
  fired: '✓',
  running: '…',
  failed: '✗',
  'timed out': '✗',
  cancelled: '–',
};

export function formatDetails(order: OrderDetails): string {
  const lines = [
    `order     ${order.orderId}  (workflow ${order.workflowId}, ${order.execution})`,
    `summary   ${order.summary ?? '-'}`,
    `status    ${order.state?.status ?? order.status ?? '?'}${order.state?.failure ? `  ${order.state.failure.code}: ${order.state.failure.message}` : ''}`,
    `now       ${order.currentDetails ?? '-'}`,
    `customer  ${order.customerId ?? '?'}   total ${money(order.memo as { totalCents?: number; currency?: string }) || '?'}   started ${order.startTime}`,
    ...(order.details ? [`lines     ${order.details.split('\n').join('\n          ')}`] : []),
    `memo      ${JSON.stringify(order.memo)}`,
    `search    ${JSON.stringify(order.searchAttributes)}`,
  ];
  if (order.state) {
    lines.push(
      `steps     done: ${order.state.completedSteps.join(', ') || '-'}; undone: ${order.state.compensatedSteps.join(', ') || '-'}`,
    );
    if (order.state.expiresAt) lines.push(`expires   ${order.state.expiresAt}`);
  } else if (order.stateError) {
    lines.push(`state     ${order.stateError}`);
  }
  for (const activity of order.pendingActivities) {
    lines.push(
      `retrying  ${activity.name}, attempt ${activity.attempt}${activity.lastFailure ? `: ${activity.lastFailure}` : ''}`,
    );
  }
  lines.push('timeline');
  for (const step of order.steps) {
    lines.push(
      `  ${OUTCOME_MARKS[step.outcome] ?? '?'} ${step.summary ?? step.name}${step.outcome === 'running' ? ' (running)' : ''}${step.failure ? `  (${step.outcome}: ${step.failure})` : ''}`,
    );
  }
  if ((order.state?.status ?? order.status) === 'NEEDS_ATTENTION') {
    lines.push(
      `next      npm run ops -- retry ${order.orderId}   |   npm run ops -- resolve ${order.orderId} --note "what was done"`,
    );
  }
  return lines.join('\n');
}

/** What a command may need besides Temporal; tests hand in their own. */
export interface OpsTools {
  /** The workflow code the replay gate replays against (default: currentWorkflowCode()). */
  workflowCode?: () => Promise<WorkflowBundleOption>;
  /** Customers by email and orders by PaymentIntent (`list --email`, `show --payment-intent`). */
  lookups?: Lookups;
}

function lookupsOf(tools: OpsTools): Lookups {
  if (!tools.lookups) throw new OperationError('lookups need the accounts and payments databases');
  return tools.lookups;
}

/** The histories replay-check and set-current's gate replay, with where they came from. */
async function historiesToReplay(
  parsed: Parsed,
  client: Client,
  movingTo?: { deploymentName: string; buildId: string },
): Promise<{ histories: HistoryToReplay[]; source: string }> {
  const dir = text(parsed.flags, 'dir');
  if (dir) return { histories: historiesFromDir(dir), source: dir };
  const since = text(parsed.flags, 'since') ?? '7d';
  const type = text(parsed.flags, 'type');
  const histories = await fetchRecentHistories(client, {
    sinceMs: parseDuration(since, 'since'),
    limit: positiveInteger(parsed.flags, 'limit', 100),
    ...(type ? { types: [type] } : {}),
    ...(movingTo ? { movingTo } : {}),
  });
  const scope = movingTo ? `, but those pinned to another version than ${movingTo.buildId}` : '';
  return { histories, source: `namespace ${client.options.namespace} (open or closed within ${since}${scope})` };
}

async function replayCheck(
  parsed: Parsed,
  client: Client,
  out: (line: string) => void,
  tools: OpsTools,
  movingTo?: { deploymentName: string; buildId: string },
): Promise<boolean> {
  const { histories, source } = await historiesToReplay(parsed, client, movingTo);
  const workflowBundle = await (tools.workflowCode ?? currentWorkflowCode)();
  const report = await replayHistories(histories, {
    workflowBundle,
    ...(client.options.dataConverter ? { dataConverter: client.options.dataConverter } : {}),
  });
  out(formatReplayReport(report, source));
  return report.failures.length === 0;
}

export async function run(
  argv: readonly string[],
  client: Client,
  out: (line: string) => void,
  env: NodeJS.ProcessEnv = process.env,
  tools: OpsTools = {},
): Promise<number> {
  const parsed = parseArgs(argv);
  const json = parsed.flags.has('json');
  switch (parsed.command) {
    case 'list': {
      const email = text(parsed.flags, 'email');
      if (email !== undefined && parsed.flags.has('customer'))
        throw new OperationError('list takes --email or --customer, not both');
      const account = email === undefined ? undefined : await accountOfEmail(lookupsOf(tools), email);
      if (account && !json) out(`${account.email}: customer ${account.id} (${account.plan} plan, ${account.role})`);
      const customerId = account?.id ?? text(parsed.flags, 'customer');
      // One customer's orders are wanted whatever their status; the whole store's, those waiting for an operator.
      const rawStatus = text(parsed.flags, 'status') ?? (customerId ? 'any' : 'NEEDS_ATTENTION');
      const status = rawStatus.toLowerCase() === 'any' ? undefined : (rawStatus.toUpperCase() as OrderStatus);
      const filter = { status, customerId };
      const orders = await listOrders(client, filter, positiveInteger(parsed.flags, 'limit', 100));
      out(json ? JSON.stringify(orders, null, 2) : formatListing(orders, ordersQuery(filter)));
      return 0;
    }
    case 'show': {
      const paymentIntentId = text(parsed.flags, 'payment-intent');
      if (paymentIntentId === undefined) {
        const details = await showOrder(client, requireOrderId(parsed));
        out(json ? JSON.stringify(details, null, 2) : formatDetails(details));
        return 0;
      }
      if (parsed.positional.length > 0)
        throw new OperationError('show takes an order id or --payment-intent, not both');
      const payment = await paymentOfIntent(lookupsOf(tools), paymentIntentId);
      const details = await showOrder(client, payment.orderId);
      const paid = `payment   ${paymentIntentId}: ${payment.status}, ${formatMoney(payment.amountCents, payment.currency)}`;
      out(json ? JSON.stringify({ ...details, payment }, null, 2) : `${paid}\n${formatDetails(details)}`);
      return 0;
    }
    case 'retry':
    case 'resolve': {
      const note = text(parsed.flags, 'note');
      const { batch, failureContains } = batchSelection({
        all: parsed.flags.has('all'),
        failure: text(parsed.flags, 'failure'),
        orderId: parsed.positional[0],
      });
      if (batch) {
        const options = { action: parsed.command, note, failureContains, dryRun: parsed.flags.has('dry-run') };
        return decideBatch(client, { ...options, limit: positiveInteger(parsed.flags, 'limit', 100) }, out);
      }
      const orderId = requireOrderId(parsed);
      const taken = await sendDecision(client, orderId, parsed.command, note ? { note } : {});
      if (!taken.accepted) throw new OperationError(`refused: ${taken.refusal}`);
      out(`order ${orderId} took ${parsed.command} of ${taken.step} (${failureText(taken.failure!)})`);
      const wait = text(parsed.flags, 'wait');
      if (wait === undefined) {
        out(`follow it with: npm run ops -- show ${orderId}`);
        return 0;
      }
      const final = await waitForOrder(client, orderId, positiveInteger(parsed.flags, 'wait', 60) * 1000);
      if (!final) {
        out(`order ${orderId} has not closed after ${wait} s; see npm run ops -- show ${orderId}`);
        return 2;
      }
      out(
        `order ${orderId} closed: ${final.status}${final.failure ? ` (${final.failure.code}: ${final.failure.message})` : ''}`,
      );
      return 0;
    }
    case 'prepare-namespace': {
      const namespace = client.options.namespace;
      const result = await prepareNamespace(client.connection, namespace, {
        retentionDays: positiveInteger(parsed.flags, 'retention-days', 7),
        log: out,
      });
      out(`namespace ${namespace} is ready${result.created || result.added.length > 0 ? '' : ' (nothing to change)'}`);
      return 0;
    }
    case 'versions': {
      const listing = await listVersions(client, deploymentName(parsed, env));
      out(json ? JSON.stringify(listing, null, 2) : formatVersions(listing));
      return 0;
    }
    case 'set-current': {
      const buildId = parsed.positional[0];
      if (!buildId) throw new OperationError(`set-current needs a build id\n${USAGE}`);
      const name = deploymentName(parsed, env);
      // The gate: the histories this version would run must replay with its code (this checkout's).
      if (parsed.flags.has('skip-replay-check')) out('replay-check skipped (--skip-replay-check)');
      else if (!(await replayCheck(parsed, client, out, tools, { deploymentName: name, buildId }))) {
        out(`refused: ${name} build ${buildId} stays as it is (--skip-replay-check overrides, at your own risk)`);
        return 1;
      }
      const { previousBuildId } = await setCurrentVersion(client, name, buildId, {
        ignoreMissingTaskQueues: parsed.flags.has('ignore-missing-task-queues'),
      });
      out(`${name} build ${buildId} is current (was ${previousBuildId ?? 'unversioned'}); new orders start on it`);
      if (previousBuildId && previousBuildId !== buildId)
        out(`stop ${previousBuildId}'s workers once npm run ops -- versions says it can stop`);
      return 0;
    }
    case 'set-ramping': {
      const [buildId, rawPercent] = parsed.positional;
      const percent = Number(rawPercent);
      if (!buildId || rawPercent === undefined || !Number.isFinite(percent) || percent < 0 || percent > 100)
        throw new OperationError(`set-ramping needs a build id and a percentage from 0 to 100\n${USAGE}`);
      const name = deploymentName(parsed, env);
      // The same gate as set-current: the ramped share of new orders runs this version's code.
      if (parsed.flags.has('skip-replay-check')) out('replay-check skipped (--skip-replay-check)');
      else if (!(await replayCheck(parsed, client, out, tools, { deploymentName: name, buildId }))) {
        out(`refused: ${name} build ${buildId} stays as it is (--skip-replay-check overrides, at your own risk)`);
        return 1;
      }
      const previous = await setRampingVersion(client, name, buildId, percent, {
        ignoreMissingTaskQueues: parsed.flags.has('ignore-missing-task-queues'),
      });
      const was = previous.previousBuildId ? `${previous.previousBuildId} at ${previous.previousPercent}%` : 'none';
      out(`${name} build ${buildId} is ramping at ${percent}% of new orders (ramping before: ${was})`);
      return 0;
    }
    case 'wait-drained': {
      const buildId = parsed.positional[0];
      if (!buildId) throw new OperationError(`wait-drained needs a build id\n${USAGE}`);
      const timeout = text(parsed.flags, 'timeout') ?? '1h';
      const { drained, version } = await waitDrained(
        client,
        deploymentName(parsed, env),
        buildId,
        parseDuration(timeout, 'timeout'),
        { progress: (now) => out(`${buildId}: ${now.status}, ${now.openPinned} open workflow(s) pinned to it`) },
      );
      if (drained) out(`${buildId} has drained: its workers can be stopped`);
      else
        out(`${buildId} has not drained after ${timeout}: ${version.openPinned} open workflow(s) still pinned to it`);
      return drained ? 0 : 2;
    }
    case 'cancel': {
      const orderId = requireOrderId(parsed);
      const state = await cancelOrder(client, orderId, text(parsed.flags, 'reason') ?? '');
      out(`order ${orderId} is ${state.status}; undone: ${state.compensatedSteps.join(', ') || 'nothing'}`);
      return 0;
    }
    case 'what-if': {
      const plan = await whatIf(client, requireOrderId(parsed), parseWhatIfAction(parsed.positional[1]));
      out(json ? JSON.stringify(plan, null, 2) : formatWhatIf(plan));
      return 0;
    }
    case 'replay-check':
      return (await replayCheck(parsed, client, out, tools)) ? 0 : 1;
    case undefined:
    case 'help':
      out(USAGE);
      return parsed.command === 'help' || parsed.flags.has('help') ? 0 : 1;
    default:
      throw new OperationError(`unknown command "${parsed.command}"\n${USAGE}`);
  }
}

function nonNegativeSeconds(raw: string): number {
  const seconds = Number(raw);
  if (!Number.isInteger(seconds) || seconds < 0)
    throw new OperationError(`--grace-seconds must be a whole number of seconds, got "${raw}"`);
  return seconds;
}

/** Temporal for the reconcile command, or undefined (and a note) when it does not answer: drift in the databases is still worth reporting. */
async function connectForReconcile(): Promise<{ client: Client; connection: Connection } | undefined> {
  try {
    const settings = temporalSettingsFromEnv();
    const connection = await connectClient(settings, { connectTimeout: 5_000 });
    return {
      connection,
      client: createClient(connection, settings, { identity: `storefront-ops/${operatorIdentity()}` }),
    };
  } catch (error) {
    console.error(`Temporal did not answer (${(error as Error).message}): stranded orders are not looked for`);
    return undefined;
  }
}

/** Who is operating, as Temporal's history and the findings record it. */
function operatorIdentity(): string {
  return `${os.userInfo().username}@${os.hostname()}`;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv.length === 0 || argv[0] === 'help' || argv.includes('--help')) {
    console.log(USAGE);
    return;
  }
  if (ACCOUNT_COMMANDS.has(argv[0]!)) {
    const urls = databaseUrlsFromEnv();
    const [accountsDb, quotaDb] = [createAccountsDb(urls.accounts), createQuotaDb(urls.quota)];
    try {
      process.exitCode = await runAccountCommand(
        argv,
        new AccountsService(accountsDb, { plans: new QuotaService(quotaDb) }),
        (line) => console.log(line),
      );
    } finally {
      await Promise.all([accountsDb.$disconnect(), quotaDb.$disconnect()]);
    }
    return;
  }
  if (FINDING_COMMANDS.has(argv[0]!)) {
    const parsed = parseArgs(argv);
    const ordersDb = createOrdersDb(databaseUrlsFromEnv().orders);
    try {
      process.exitCode = await runFindingCommand(
        {
          command: parsed.command!,
          positional: parsed.positional,
          status: text(parsed.flags, 'status'),
          limit: positiveInteger(parsed.flags, 'limit', 100),
          note: text(parsed.flags, 'note'),
          json: parsed.flags.has('json'),
          operator: operatorIdentity(),
        },
        new FindingsService(ordersDb),
        (line) => console.log(line),
      );
    } finally {
      await ordersDb.$disconnect();
    }
    return;
  }
  if (argv[0] === 'reconcile') {
    // Reads the service databases directly; Temporal, when it answers, says which open orders still have a checkout.
    const temporal = await connectForReconcile();
    try {
      const grace = parseArgs(argv).flags.get('grace-seconds');
      const report = await reconcile(databaseUrlsFromEnv(), {
        stripeSecretKey: loadSettings().stripeSecretKey,
        ...(typeof grace === 'string' ? { graceSeconds: nonNegativeSeconds(grace) } : {}),
        ...(temporal ? { checkoutRunning: (orderId: string) => checkoutRunning(temporal.client, orderId) } : {}),
      });
      console.log(argv.includes('--json') ? JSON.stringify(report, null, 2) : formatReport(report));
      process.exitCode = report.violations.length === 0 ? 0 : 1;
    } finally {
      await temporal?.connection.close();
    }
    return;
  }
  if (argv[0] === 'what-if' && argv[2] === 'refund') {
    // Worked out from the databases, as the refund command starts it: the same flags give the same key.
    const input = parseRefundArgs(argv);
    const request = refundRequestOf(input, USAGE);
    const services = openServices(databaseUrlsFromEnv(), loadSettings());
    try {
      const plan = await whatIfRefund(services, request);
      console.log(input.json ? JSON.stringify(plan, null, 2) : formatRefundWhatIf(plan));
      process.exitCode = plan.refused ? 1 : 0;
    } finally {
      await services.close();
    }
    return;
  }
  if (REFUND_COMMANDS.has(argv[0]!)) {
    const input = parseRefundArgs(argv);
    const settings = temporalSettingsFromEnv();
    const connection = await connectClient(settings, { connectTimeout: 5_000 });
    const services = openServices(databaseUrlsFromEnv(), loadSettings());
    try {
      const client = createClient(connection, settings, { identity: `storefront-ops/${operatorIdentity()}` });
      process.exitCode = await runRefundCommand(
        input,
        {
          orders: services.orders,
          refunds: services.refunds,
          client: new RefundClient(client, { deadlineMs: 60_000 }),
        },
        (line) => console.log(line),
      );
    } finally {
      await Promise.all([services.close(), connection.close()]);
    }
    return;
  }
  if (argv[0] === 'repair') {
    const orderId = parseArgs(argv).positional[0];
    if (!orderId) throw new OperationError(`repair needs an order id\n${USAGE}`);
    const settings = temporalSettingsFromEnv();
    const connection = await connectClient(settings, { connectTimeout: 5_000 });
    const services = openServices(databaseUrlsFromEnv(), loadSettings());
    try {
      const outcome = await repairOrder(
        {
          temporal: createClient(connection, settings, { identity: `storefront-ops/${operatorIdentity()}` }),
          orders: services.orders,
          payments: services.payments,
          orderTtlSeconds: loadSettings().orderTtlSeconds,
        },
        orderId,
      );
      console.log(outcome.action === 'started' ? `${outcome.detail}: npm run ops -- show ${orderId}` : outcome.detail);
      process.exitCode = outcome.action === 'started' ? 0 : 1;
    } finally {
      await Promise.all([services.close(), connection.close()]);
    }
    return;
  }
  if (argv[0] === 'stuck') {
    // Temporal says what is retrying; the orders database what is past its deadline; the reconciler what is stranded.
    const parsed = parseArgs(argv);
    const options = {
      olderThanMs: parseDuration(text(parsed.flags, 'older-than') ?? '10m', 'older-than', { allowZero: true }),
      attempts: positiveInteger(parsed.flags, 'attempts', 5),
      limit: positiveInteger(parsed.flags, 'limit', 1000),
    };
    const settings = temporalSettingsFromEnv();
    const connection = await connectClient(settings, { connectTimeout: 5_000 });
    const client = createClient(connection, settings, { identity: `storefront-ops/${operatorIdentity()}` });
    const urls = databaseUrlsFromEnv();
    const orders = new Pool({ connectionString: urls.orders, max: 2 });
    try {
      const stuck = await findStuckOrders(
        {
          client,
          orders,
          strandedOrders: async (graceSeconds) =>
            (
              await reconcile(urls, {
                graceSeconds,
                checkoutRunning: (orderId: string) => checkoutRunning(client, orderId),
              })
            ).violations.filter((violation) => violation.invariant === INVARIANTS.orderHasWorkflow),
        },
        options,
      );
      console.log(parsed.flags.has('json') ? JSON.stringify(stuck, null, 2) : formatStuck(stuck, options));
      process.exitCode = stuck.length === 0 ? 0 : 1;
    } finally {
      await Promise.all([orders.end(), connection.close()]);
    }
    return;
  }
  if (argv[0] === 'replay-check' || argv[0] === 'set-current' || argv[0] === 'set-ramping') {
    // The replayer's Runtime: the SDK's own lines about the divergences it finds stay out of the report.
    Runtime.install({
      logger: new DefaultLogger('ERROR'),
      shutdownSignals: [],
      telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' }, forward: {} } },
    });
  }
  const settings = temporalSettingsFromEnv();
  const connection = await connectClient(settings, { connectTimeout: 5_000 });
  const client = createClient(connection, settings, { identity: `storefront-ops/${operatorIdentity()}` });
  const lookups = lookupsOver(() => openServices(databaseUrlsFromEnv(), loadSettings()));
  try {
    process.exitCode = await run(argv, client, (line) => console.log(line), process.env, { lookups });
  } finally {
    await Promise.all([connection.close(), lookups.close()]);
  }
}

if (require.main === module) {
  main().catch((error: Error) => {
    console.error(
      error instanceof OperationError ||
        error instanceof TemporalSettingsError ||
        error instanceof WorkerDeploymentError
        ? error.message
        : `ops failed: ${error.message}`,
    );
    process.exit(1);
  });
}
