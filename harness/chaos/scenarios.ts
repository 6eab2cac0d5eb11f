/**
 * The chaos scenarios. Each drives its own sagas (customers of its own) through one kind of
 * failure and records what it did; the invariants are checked over all of them at the end.
 * Scenario-level promises (one of two concurrent payments wins, a usage key counts once) are
 * checked here and reported as violations too.
 */
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { createQuotaActivities } from '../../activities/quota.activities';
import type { ServiceName } from '../../lib/service-names';
import { periodOf } from '../../services/quota/quota.service';
import { checkoutWorkflow } from '../../workflows/checkout/checkout.workflow';
import { checkoutStartOptions } from '../../temporal/checkout-client';
import { paymentEventSignal, type PaymentEventInput } from '../../workflows/contract';
import { refundIdFor } from '../../temporal/refund-client';
import {
  depthOf,
  describeBoundary,
  isBeforePayment,
  isCancelBoundary,
  isRefundBoundary,
  SHALLOW,
  type ArmedBoundary,
  type Boundary,
} from './boundaries';
import type { Violation } from './invariants';
import type { Operator } from './operator';
import type { OperatorCase, OperatorReset } from './operator-cases';
import { checkoutInput, delay, finalStatus, type RefundAsk, type Saga, type SagaDriver, type SagaPlan } from './sagas';
import type { ChaosStack } from './stack';

export interface ScenarioOptions {
  /** Worker kills: each boundary this many times (one saga each). */
  killBoundaries: readonly Boundary[];
  /** Every boundary a saga can be killed at: the report names those no kill reached. */
  everyBoundary: readonly Boundary[];
  killRepeats: number;
  /** Sagas armed at once; the worker is killed once they have all paused (or the window ran out). */
  waveSize: number;
  /** How long after the first pause of an incarnation the others get to reach theirs before the kill. */
  pauseWindowMs: number;
  /** Temporal restarts, each with its own batch of sagas in flight. */
  temporalRestarts: Array<'SIGTERM' | 'SIGKILL'>;
  temporalDownMs: number;
  restartSagas: number;
  /** Database outages, one service at a time. */
  outageServices: readonly ServiceName[];
  outageMs: number;
  outageSagas: number;
  stripeOutageSagas: number;
  duplicatePaymentOrders: number;
  webhookOrders: number;
  usageKeys: number;
  /** Completed orders refunded after the sale, per kind of refund (full, by lines, by amount, two racing, one key twice). */
  refundOrders: number;
  /** Checkouts reset (each case to its workflow task), and checkouts terminated then repaired. */
  resets: readonly OperatorReset[];
  terminations: readonly OperatorCase[];
  /** How long one scenario's sagas get to settle. */
  settleMs: number;
}

export interface ScenarioContext {
  stack: ChaosStack;
  driver: SagaDriver;
  options: ScenarioOptions;
  log: (line: string) => void;
  /** Scenario-level promises that failed. */
  violations: Violation[];
  /** Users outside the sagas whose quota and notifications the invariants check too. */
  extraUsers: string[];
  /** Resets, terminations and repairs, through Temporal's own tools; counted for the report. */
  operator: Operator;
  /** Set by the kill scenario once its last wave's kills are over (its sagas may still be recovering). */
  killWavesOver?: boolean;
}

export interface ScenarioResult {
  sagas: Saga[];
  details: Record<string, unknown>;
}

export interface Scenario {
  name: string;
  description: string;
  run(ctx: ScenarioContext): Promise<ScenarioResult>;
}

/** Waits for a condition checked every 50 ms; false when the deadline passed first. */
async function until(condition: () => boolean, deadline: number): Promise<boolean> {
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await delay(50);
  }
  return true;
}

/** Durations of a scenario's phases, for the report. */
function stopwatch(): { lap(name: string): void; laps: Record<string, number> } {
  let last = Date.now();
  const laps: Record<string, number> = {};
  return {
    lap(name) {
      const now = Date.now();
      laps[name] = now - last;
      last = now;
    },
    laps,
  };
}

/** How a saga reaches a boundary: refundPayment runs only in the unwind of an order that was charged (here: declined once). */
function planAt(boundary: Boundary): SagaPlan {
  if (!isCancelBoundary(boundary)) return 'pay';
  return boundary.activity === 'refundPayment' ? 'declined-then-cancel' : 'cancel';
}

/** Everything left of the order, its units back on sale: the refund the kill scenario's refund sagas ask for. */
const FULL_REFUND: RefundAsk = { restock: true };

/** How the refunds of these sagas were answered and ended, for the report. */
function summarizeRefunds(sagas: readonly Saga[]): Record<string, number> {
  const outcomes: Record<string, number> = {};
  for (const refund of sagas.flatMap((s) => s.refunds)) {
    const ended = refund.final?.state?.needsAttention
      ? 'NEEDS_ATTENTION'
      : (refund.final?.state?.status ?? refund.final?.execution ?? 'UNKNOWN');
    const key = `${refund.answer ?? 'no answer'} → ${ended}`;
    outcomes[key] = (outcomes[key] ?? 0) + 1;
  }
  return outcomes;
}

function planFor(index: number, mix: SagaPlan[]): SagaPlan {
  return mix[index % mix.length]!;
}

// ---------------------------------------------------------------------------------------------

export const workerKills: Scenario = {
  name: 'worker-sigkill-at-activity-boundaries',
  description:
    'SIGKILL the worker process (all task queues) before and after each activity of the paid and the cancelled checkout, ' +
    'and inside the charge once Stripe has charged; one saga per boundary; a replacement worker starts at once, as a process supervisor would.',
  async run(ctx) {
    const { stack, driver, options } = ctx;
    const all: Boundary[] = [];
    for (let r = 0; r < options.killRepeats; r += 1) all.push(...options.killBoundaries);
    // Boundaries dealt round-robin, so that every wave has shallow and deep ones.
    const waves: Boundary[][] = Array.from({ length: Math.ceil(all.length / options.waveSize) }, () => []);
    all.forEach((boundary, i) => waves[i % waves.length]!.push(boundary));

    const sagas: Saga[] = [];
    const reached: Array<{ boundary: string; attempt: number; afterMs: number; incarnation: number }> = [];
    const notReached: string[] = [];
    const startKills = stack.workerKills;
    const drives: Array<Promise<unknown>> = [];
    // A customer per saga: one customer's notifications go through one workflow, and a saga held
    // at persistNotification would hold back the others of its customer.
    const planned = waves.map((wave, w) =>
      wave.map((boundary, i) =>
        driver.plan({ scenario: this.name, customerId: `kill-w${w}-c${i}`, plan: planAt(boundary), boundary }),
      ),
    );
    await driver.fillCarts(planned.flat());
    // Sagas whose boundary lies in the refund saga are completed, unarmed, all at once from the
    // start (a kill of an earlier wave only delays them): the refund is asked for of a COMPLETED
    // order, and its saga is a workflow of its own, free of the checkout's sticky queue.
    const completing = new Map(
      planned
        .flat()
        .filter((saga) => isRefundBoundary(saga.boundary!))
        .map((saga) => {
          const done = driver.complete(saga, Date.now() + 2 * options.settleMs).catch((error: Error) => {
            saga.events.push(`complete: ${error.message}`);
          });
          return [saga.orderId, done] as const;
        }),
    );
    for (const [w, waveSagas] of planned.entries()) {
      sagas.push(...waveSagas);
      const deadline = Date.now() + options.settleMs;
      // Sagas whose boundary lies after the order awaits payment are brought there first, unarmed:
      // waiting for payment is the one place a saga rests without a timeout running.
      const waveBegun = Date.now();
      await Promise.all(
        waveSagas
          .filter((s) => !isBeforePayment(s.boundary!))
          .map((saga) => completing.get(saga.orderId) ?? driver.place(saga, deadline)),
      );
      const timeline: string[] = [`placed ${Date.now() - waveBegun} ms`];

      // Then every saga is armed and set going (started, paid or cancelled), the deep ones first and
      // the shallow ones once the first deep one holds at its boundary: each saga then reaches its
      // boundary within a few activities of the others, and one kill takes the whole wave. (The
      // orders brought to payment must be set going in the incarnation that placed them: after a
      // kill their next workflow task would first wait out the dead worker's sticky queue.)
      // A refund saga's refund id is known before it is asked for (from the order and the request's key).
      const refundKeys = new Map(waveSagas.map((s) => [s.orderId, `chaos-refund-${s.orderId}`]));
      const armed: ArmedBoundary[] = waveSagas.map((s) => ({
        ...s.boundary!,
        id: s.orderId,
        orderId: s.orderId,
        customerId: s.customerId,
        ...(isRefundBoundary(s.boundary!) ? { refundId: refundIdFor(s.orderId, refundKeys.get(s.orderId)!) } : {}),
      }));
      const pending = new Map(armed.map((a) => [a.id, a]));
      let firstPauseAt: number | undefined;
      /** The worker processes in which a saga of this wave is held. */
      const holders = new Set<number>();
      const armedAt = Date.now();
      const stopListening = stack.onPause((report) => {
        const boundary = pending.get(report.id);
        if (!boundary) return;
        pending.delete(report.id);
        reached.push({
          boundary: describeBoundary(boundary),
          attempt: report.attempt,
          afterMs: Date.now() - armedAt,
          incarnation: stack.workerKills,
        });
        holders.add(report.pid);
        firstPauseAt ??= Date.now();
      });
      stack.arm(armed);
      const setGoing = (stage: Saga[]) => {
        for (const saga of stage) {
          const boundary = saga.boundary!;
          const going = isRefundBoundary(boundary)
            ? driver.refund(saga, FULL_REFUND, deadline, refundKeys.get(saga.orderId))
            : isBeforePayment(boundary)
              ? driver.drive(saga, deadline)
              : driver.act(saga, deadline);
          drives.push(going.catch((error: Error) => saga.events.push(`drive: ${error.message}`)));
        }
      };
      const deep = waveSagas.filter((s) => depthOf(s.boundary!) > SHALLOW);
      setGoing(deep);
      if (deep.length > 0) await until(() => firstPauseAt !== undefined, Date.now() + 60_000);
      setGoing(waveSagas.filter((s) => depthOf(s.boundary!) <= SHALLOW));

      // One kill per worker incarnation: once every armed saga holds at its boundary, or the
      // window after the first one ran out (the others stay armed for the next incarnation).
      for (let incarnation = 0; pending.size > 0 && incarnation < 4; incarnation += 1) {
        const firstDeadline = Date.now() + 60_000; // a saga may wait out a killed activity's timeout first (heartbeat 5 s for payments, else start-to-close 10 s)
        if (!(await until(() => firstPauseAt !== undefined, firstDeadline))) break;
        await until(() => pending.size === 0 || Date.now() - firstPauseAt! > options.pauseWindowMs, deadline);
        const killed = stack.workerPid;
        await stack.killAndReplaceWorker();
        timeline.push(`${waveSagas.length - pending.size} held, killed after ${Date.now() - armedAt} ms`);
        // A saga may have reached its boundary in the replacement already: that pause counts for the next round.
        if (killed !== undefined) holders.delete(killed);
        firstPauseAt = holders.size > 0 ? Date.now() : undefined;
      }
      stopListening();
      if (pending.size > 0) {
        stack.disarm([...pending.keys()]);
        notReached.push(...[...pending.values()].map(describeBoundary));
      }
      // Nothing stays held in a live worker: kill the one that holds a saga, if any.
      const workerPid = stack.workerPid;
      if (workerPid !== undefined && holders.has(workerPid)) {
        await stack.killAndReplaceWorker();
        timeline.push('killed once more for a saga held in the replacement');
      }
      // The next wave starts while this one's sagas recover (waiting out their killed activities'
      // timeouts); its kills may catch some of them again, which they must survive as well.
      ctx.log(
        `chaos: wave ${w + 1}/${waves.length}: ${reached.length} boundaries reached so far, ${stack.workerKills - startKills} kills (${timeline.join(', ')})`,
      );
    }
    ctx.killWavesOver = true;
    const recovering = Date.now();
    await Promise.all(drives);
    await driver.settle(sagas, Date.now() + options.settleMs);
    await driver.settleRefunds(sagas, Date.now() + options.settleMs);
    ctx.log(`chaos: every killed saga settled ${Date.now() - recovering} ms after the last wave`);
    for (const boundary of notReached)
      ctx.violations.push({
        invariant: 'boundary-reached',
        detail: `no saga reached the boundary ${boundary} to be killed there`,
      });
    // Which of the sagas' boundaries no kill reached (the plan left it out, or it was armed and never reached).
    const seen = new Set(reached.map((r) => r.boundary));
    const neverReached = [...new Set(options.everyBoundary.map(describeBoundary))].filter((b) => !seen.has(b));
    const times = reached.map((r) => r.afterMs).sort((a, b) => a - b);
    return {
      sagas,
      details: {
        boundaries: options.killBoundaries.length,
        sagasPerBoundary: options.killRepeats,
        waves: waves.length,
        kills: stack.workerKills - startKills,
        reached: reached.length,
        notReached,
        neverReached,
        refunds: summarizeRefunds(sagas),
        msFromArmingToPause: {
          median: times[Math.floor(times.length / 2)] ?? null,
          max: times[times.length - 1] ?? null,
        },
        reachedAt: reached.map(
          (r) => `${r.boundary} +${r.afterMs} ms (attempt ${r.attempt}, incarnation ${r.incarnation})`,
        ),
      },
    };
  },
};

// ---------------------------------------------------------------------------------------------

export const temporalRestart: Scenario = {
  name: 'temporal-server-restart',
  description:
    'Stop the Temporal dev server while sagas are placing orders, charging, cancelling and expiring, keep it down, ' +
    'and start it again on the same SQLite file; workers and clients reconnect on their own.',
  async run(ctx) {
    const { stack, driver, options } = ctx;
    const sagas: Saga[] = [];
    const restarts: Array<{ signal: string; downMs: number; chargesInFlight: number }> = [];
    for (const [r, signal] of options.temporalRestarts.entries()) {
      const batch = Array.from({ length: options.restartSagas }, (_, i) =>
        driver.plan({
          scenario: this.name,
          customerId: `restart${r}-c${i % 4}`,
          plan: planFor(i, ['pay', 'pay', 'cancel', 'expire']),
          scarce: i % 5 === 4,
        }),
      );
      sagas.push(...batch);
      await driver.fillCarts(batch);
      const ids = new Set(batch.map((s) => s.orderId));
      const deadline = Date.now() + options.settleMs;
      const drives = batch.map((saga) =>
        driver.drive(saga, deadline).catch((error: Error) => saga.events.push(`drive: ${error.message}`)),
      );
      // Stop it when a charge of this batch is at Stripe: payments, cancels and timers are then all in flight.
      await until(() => stack.stripe.requests.some((c) => c.kind === 'confirm' && ids.has(c.orderId ?? '')), deadline);
      const chargesInFlight = stack.stripe.requests.filter(
        (c) => c.kind === 'confirm' && ids.has(c.orderId ?? ''),
      ).length;
      await stack.restartTemporal({ downMs: options.temporalDownMs, signal });
      restarts.push({ signal, downMs: options.temporalDownMs, chargesInFlight });
      await Promise.all(drives);
      await driver.settle(batch, deadline);
    }
    return { sagas, details: { restarts } };
  },
};

// ---------------------------------------------------------------------------------------------

export const databaseOutage: Scenario = {
  name: 'service-database-unreachable',
  description:
    "Cut one service's PostgreSQL (a TCP proxy in front of it resets every connection) for the outage, one service at a time, " +
    'while orders wait for payment, are paid and cancelled, and new ones are placed; then restore it.',
  async run(ctx) {
    const { stack, driver, options } = ctx;
    const sagas: Saga[] = [];
    const outages: Array<{ service: string; ms: number; connectionsRefused: number }> = [];
    for (const service of options.outageServices) {
      const n = options.outageSagas;
      const waiting = Array.from({ length: Math.ceil(n / 2) }, (_, i) =>
        driver.plan({
          scenario: this.name,
          customerId: `db-${service}-c${i % 2}`,
          plan: planFor(i, ['pay', 'cancel', 'pay']),
        }),
      );
      const fresh = Array.from({ length: Math.floor(n / 2) }, (_, i) =>
        driver.plan({
          scenario: this.name,
          customerId: `db-${service}-c${2 + (i % 2)}`,
          plan: planFor(i, ['pay', 'cancel']),
        }),
      );
      sagas.push(...waiting, ...fresh);
      await driver.fillCarts([...waiting, ...fresh]);
      const deadline = Date.now() + options.settleMs + options.outageMs;
      await Promise.all(waiting.map((saga) => driver.place(saga, deadline)));

      const proxy = stack.databaseProxies[service];
      const refusedBefore = proxy.refused;
      proxy.cut();
      const cutAt = Date.now();
      const drives = [
        ...waiting.map((saga) => driver.act(saga, deadline)),
        ...fresh.map((saga) => driver.drive(saga, deadline)),
      ].map((p, i) => p.catch((error: Error) => [...waiting, ...fresh][i]!.events.push(`drive: ${error.message}`)));
      // The outage lasts outageMs (waiting here is the scenario, not a guess about timing), and
      // longer if nothing has tried to reach the database yet (at most a minute).
      await delay(Math.max(0, options.outageMs - (Date.now() - cutAt)));
      await until(() => proxy.refused > refusedBefore, Date.now() + 60_000);
      proxy.restore();
      outages.push({ service, ms: Date.now() - cutAt, connectionsRefused: proxy.refused - refusedBefore });
      ctx.log(
        `chaos: ${service} database back after ${Date.now() - cutAt} ms (${proxy.refused - refusedBefore} connections refused meanwhile)`,
      );
      await Promise.all(drives);
      await driver.settle([...waiting, ...fresh], deadline);
    }
    return { sagas, details: { outages } };
  },
};

export const stripeOutage: Scenario = {
  name: 'stripe-unreachable',
  description:
    'Cut the proxy in front of stripe-mock (every connection reset) while orders are being paid; restore it after the outage.',
  async run(ctx) {
    const { stack, driver, options } = ctx;
    const sagas = Array.from({ length: options.stripeOutageSagas }, (_, i) =>
      driver.plan({ scenario: this.name, customerId: `stripe-c${i % 3}`, plan: 'pay' }),
    );
    await driver.fillCarts(sagas);
    const deadline = Date.now() + options.settleMs + options.outageMs;
    await Promise.all(sagas.map((saga) => driver.place(saga, deadline)));
    const callsBefore = stack.stripe.requests.length;
    stack.stripe.cut();
    const cutAt = Date.now();
    const drives = sagas.map((saga) =>
      driver.act(saga, deadline).catch((error: Error) => saga.events.push(`drive: ${error.message}`)),
    );
    // Ten seconds, and longer if no request has met the outage yet (at most a minute).
    await delay(Math.max(0, options.outageMs - (Date.now() - cutAt)));
    await until(
      () => stack.stripe.requests.slice(callsBefore).some((c) => c.status === undefined),
      Date.now() + 60_000,
    );
    stack.stripe.restore();
    const lost = stack.stripe.requests.slice(callsBefore).filter((c) => c.status === undefined).length;
    ctx.log(`chaos: stripe-mock reachable again after ${Date.now() - cutAt} ms (${lost} requests cut meanwhile)`);
    await Promise.all(drives);
    await driver.settle(sagas, deadline);
    return { sagas, details: { outageMs: Date.now() - cutAt, requestsCut: lost } };
  },
};

// ---------------------------------------------------------------------------------------------

export const duplicates: Scenario = {
  name: 'duplicates-and-reordering',
  description:
    'Pay the same order three times at once; relay duplicate and out-of-order payment webhooks (success before the charge, failure after it, ' +
    'a forged success on an order then cancelled); record the same usage event four times at once; start an order twice.',
  async run(ctx) {
    const { stack, driver, options } = ctx;
    const deadline = Date.now() + options.settleMs;
    const sagas: Saga[] = [];

    // Concurrent duplicate payments: one wins, the others are refused, Stripe sees one charge.
    const payTwice = Array.from({ length: options.duplicatePaymentOrders }, (_, i) =>
      driver.plan({ scenario: this.name, customerId: `dup-pay-c${i % 2}`, plan: 'pay' }),
    );
    // Webhooks: duplicates and out of order, on paid orders, and a forged success on one that is cancelled.
    const hooked = Array.from({ length: options.webhookOrders }, (_, i) =>
      driver.plan({ scenario: this.name, customerId: `dup-hook-c${i % 2}`, plan: 'pay' }),
    );
    const forged = driver.plan({ scenario: this.name, customerId: 'dup-hook-forged', plan: 'cancel' });
    sagas.push(...payTwice, ...hooked, forged);
    await driver.fillCarts(sagas);
    const watch = stopwatch();
    await Promise.all(sagas.map((saga) => driver.place(saga, deadline)));
    watch.lap('place');

    const payOutcomes = await Promise.all(
      payTwice.map(async (saga) => {
        const outcomes = await Promise.all(
          ['a', 'b', 'c'].map((id) => driver.pay(saga, deadline, `pay-${id}-${saga.orderId}`)),
        );
        const won = outcomes.filter((o) => o.startsWith('completed')).length;
        if (won !== 1)
          ctx.violations.push({
            invariant: 'one-payment',
            orderId: saga.orderId,
            scenario: this.name,
            detail: `${won} of 3 concurrent payments succeeded (${outcomes.join(', ')})`,
          });
        return outcomes;
      }),
    );

    watch.lap('concurrentPayments');
    const delivered = new Map<string, Set<string>>();
    const signal = async (saga: Saga, event: PaymentEventInput) => {
      try {
        await driver.handle(saga).signal(paymentEventSignal, event);
        delivered.set(saga.orderId, (delivered.get(saga.orderId) ?? new Set()).add(event.eventId));
        return 'delivered';
      } catch (error) {
        return `not delivered: ${(error as Error).message}`;
      }
    };
    const webhookEvents: string[] = [];
    await Promise.all(
      hooked.map(async (saga) => {
        const early: PaymentEventInput = {
          eventId: `evt_${saga.orderId}_early`,
          type: 'payment_intent.succeeded',
          paymentIntentId: 'pi_not_charged_yet',
        };
        const failed: PaymentEventInput = {
          eventId: `evt_${saga.orderId}_failed`,
          type: 'payment_intent.payment_failed',
          paymentIntentId: 'pi_not_charged_yet',
        };
        // A success before any charge, twice at once; then the payment racing a failure event, twice.
        webhookEvents.push(...(await Promise.all([signal(saga, early), signal(saga, early)])));
        const [paid, ...rest] = await Promise.all([
          driver.pay(saga, deadline),
          signal(saga, failed),
          signal(saga, failed),
          signal(saga, early),
        ]);
        webhookEvents.push(...rest);
        saga.events.push(`paid among webhooks: ${paid}`);
      }),
    );
    await signal(forged, {
      eventId: `evt_${forged.orderId}_forged`,
      type: 'payment_intent.succeeded',
      paymentIntentId: 'pi_forged',
    });
    await signal(forged, {
      eventId: `evt_${forged.orderId}_forged`,
      type: 'payment_intent.succeeded',
      paymentIntentId: 'pi_forged',
    });
    await driver.cancel(forged, deadline);
    watch.lap('webhooks');

    // The same order started again once its saga has ended: refused, as the storefront starts it
    // (REJECT_DUPLICATE); and when a client ignores that (or the id comes back after the namespace's
    // retention), the second run must leave the first one's order, payment, stock and quota as they are.
    const again = payTwice[0] ?? hooked[0]!;
    await driver.settle([again], deadline);
    let secondStart = 'started a second saga';
    try {
      await stack.client.workflow.start(checkoutWorkflow, checkoutStartOptions(checkoutInput(again)));
    } catch (error) {
      secondStart =
        error instanceof WorkflowExecutionAlreadyStartedError
          ? 'refused: already started'
          : `failed: ${(error as Error).message}`;
    }
    if (secondStart !== 'refused: already started')
      ctx.violations.push({
        invariant: 'one-saga-per-order',
        scenario: this.name,
        detail: `starting an order twice: ${secondStart}`,
      });
    const firstRun = finalStatus(again);
    let rerunOutcome = 'not started: the first run has not ended';
    if (again.final && again.final.execution !== 'RUNNING') {
      await stack.client.workflow.start(checkoutWorkflow, {
        ...checkoutStartOptions(checkoutInput(again)),
        workflowIdReusePolicy: 'ALLOW_DUPLICATE',
      });
      again.final = undefined;
      await driver.settle([again], deadline); // the invariants then check the second run's answer against the databases
      rerunOutcome = finalStatus(again);
      if (rerunOutcome !== firstRun) {
        ctx.violations.push({
          invariant: 'one-saga-per-order',
          orderId: again.orderId,
          scenario: this.name,
          detail: `a second run of a ${firstRun} order ended ${rerunOutcome}`,
        });
      }
    }

    watch.lap('startedAgain');
    // Duplicate usage events: each key four times at once through the quota activity; 80 % and 100 % are crossed once each.
    const userId = 'dup-usage';
    ctx.extraUsers.push(userId);
    const quota = createQuotaActivities({ quota: stack.services.quota, temporal: stack.client });
    const quantity = 9;
    const keys = Array.from({ length: options.usageKeys }, (_, i) => `build-${i}`);
    const results = await Promise.all(
      keys.flatMap((key) =>
        Array.from({ length: 4 }, () =>
          quota.recordUsage({ userId, resource: 'builds', quantity, idempotencyKey: key }),
        ),
      ),
    );
    watch.lap('usageEvents');
    const replayed = results.filter((r) => r.replayed).length;
    const summary = await stack.services.quota.getQuota(userId);
    const builds = summary.resources.find((r) => r.resource === 'builds')!;
    if (builds.used !== keys.length * quantity) {
      ctx.violations.push({
        invariant: 'quota-matches-orders',
        scenario: this.name,
        detail: `${keys.length} usage keys of ${quantity} counted as ${builds.used}`,
      });
    }
    const period = periodOf(new Date());
    const thresholds = [80, 100]
      .filter((t) => keys.length * quantity * 100 >= builds.limit * t)
      .map((t) => `quota:builds:${period}:${t}`);
    let notified: Array<{ dedupe_key: string; n: number }> = [];
    const notifyDeadline = Date.now() + 30_000;
    for (;;) {
      const list = await stack.services.notifications.list(userId, { limit: 500 });
      const counts = new Map<string, number>();
      for (const n of list) counts.set(n.dedupeKey, (counts.get(n.dedupeKey) ?? 0) + 1);
      notified = [...counts].map(([dedupe_key, n]) => ({ dedupe_key, n }));
      if (thresholds.every((t) => counts.has(t)) || Date.now() > notifyDeadline) break;
      await delay(250);
    }
    for (const key of thresholds) {
      const n = notified.find((x) => x.dedupe_key === key)?.n ?? 0;
      if (n !== 1)
        ctx.violations.push({
          invariant: 'notifications-once',
          scenario: this.name,
          detail: `${userId}: ${n} notifications for ${key}`,
        });
    }

    watch.lap('usageNotifications');
    await driver.settle(sagas, deadline);
    watch.lap('settle');

    // Each webhook event the workflow received is kept exactly once, whatever arrived twice or out
    // of order (what it means for the order is the charge's to decide: the other invariants check that).
    for (const saga of [...hooked, forged]) {
      const events = saga.final?.state?.paymentEvents;
      if (!events) continue; // a workflow version that does not keep them
      const kept = events.map((e) => e.eventId);
      const lost = [...(delivered.get(saga.orderId) ?? [])].filter((id) => !kept.includes(id));
      if (new Set(kept).size !== kept.length || lost.length > 0) {
        ctx.violations.push({
          invariant: 'webhooks-once',
          orderId: saga.orderId,
          scenario: this.name,
          detail: `payment events kept: ${kept.join(', ')}; delivered but not kept: ${lost.join(', ') || 'none'}`,
        });
      }
    }
    return {
      sagas,
      details: {
        concurrentPayments: payOutcomes.map((o) => o.join(' | ')),
        webhookSignals: webhookEvents.length,
        webhookSignalsNotDelivered: webhookEvents.filter((e) => e !== 'delivered').length,
        secondStart,
        rerunOfEndedOrder: rerunOutcome,
        phasesMs: watch.laps,
        usage: {
          keys: keys.length,
          calls: results.length,
          replayed,
          used: builds.used,
          limit: builds.limit,
          notifications: notified,
        },
      },
    };
  },
};

// ---------------------------------------------------------------------------------------------

/** The kinds of refund the refunds scenario asks of completed orders. */
const REFUND_KINDS = ['full', 'lines', 'amount', 'racing', 'same-key'] as const;
type RefundKind = (typeof REFUND_KINDS)[number];

export const refunds: Scenario = {
  name: 'refunds-after-sale',
  description:
    'Refund completed orders as the admin route does: in full with the units restocked, one unit of a line, an amount and then more than is left, ' +
    'two refunds of everything at once (one must win), and one request sent twice at once with the same Idempotency-Key.',
  async run(ctx) {
    const { stack, driver, options } = ctx;
    const deadline = Date.now() + options.settleMs;
    const plans = REFUND_KINDS.flatMap((kind) =>
      Array.from({ length: options.refundOrders }, (_, i) => ({
        kind,
        saga: driver.plan({ scenario: this.name, customerId: `refund-${kind}-c${i}`, plan: 'pay' }),
      })),
    );
    const sagas = plans.map((p) => p.saga);
    await driver.fillCarts(sagas);
    const watch = stopwatch();
    await Promise.all(sagas.map((saga) => driver.complete(saga, deadline)));
    watch.lap('complete');
    const failed = (kind: RefundKind, saga: Saga, detail: string) =>
      ctx.violations.push({
        invariant: 'refund-answers',
        orderId: saga.orderId,
        scenario: this.name,
        detail: `${kind}: ${detail}`,
      });
    const refunded = plans.filter(({ saga }) => finalStatus(saga) === 'COMPLETED'); // the invariants judge the others
    await Promise.all(
      refunded.map(async ({ kind, saga }) => {
        if (kind === 'full') await driver.refund(saga, { restock: true }, deadline);
        else if (kind === 'lines') {
          const line = saga.lines[0]!;
          await driver.refund(saga, { lines: [{ productId: line.productId, quantity: 1 }], restock: true }, deadline);
        } else if (kind === 'amount') {
          const total = saga.lines.reduce((sum, l) => sum + l.quantity * l.unitPriceCents, 0);
          await driver.refund(saga, { amountCents: 250, restock: false }, deadline);
          await driver.refund(saga, { amountCents: total - 250 + 1, restock: false }, deadline);
          await driver.refund(saga, { amountCents: total - 250, restock: false }, deadline);
        } else if (kind === 'racing') {
          await Promise.all([1, 2].map(() => driver.refund(saga, { restock: true }, deadline)));
        } else {
          const key = `chaos-twice-${saga.orderId}`;
          await Promise.all([1, 2].map(() => driver.refund(saga, { restock: true }, deadline, key)));
        }
      }),
    );
    watch.lap('refunds');
    await driver.settleRefunds(sagas, deadline);
    watch.lap('settleRefunds');
    // Each refund as it ended: a request answered while its saga was still in flight (a retry after a
    // kill finds the refund recorded and PENDING, as the API would answer) is judged by its saga's end.
    const outcomes = (saga: Saga) =>
      saga.refunds.map((r) => (r.answer?.startsWith('refused:') ? r.answer : (r.final?.state?.status ?? r.answer)));
    const statuses: Record<string, number> = {};
    for (const { kind, saga } of refunded) {
      const got = outcomes(saga);
      const expected =
        kind === 'amount'
          ? 'SUCCEEDED,refused:REFUND_EXCEEDS_PAYMENT,SUCCEEDED'
          : kind === 'racing'
            ? 'SUCCEEDED,refused:REFUND_EXCEEDS_PAYMENT'
            : kind === 'same-key'
              ? 'SUCCEEDED,SUCCEEDED'
              : 'SUCCEEDED';
      if ((kind === 'racing' ? [...got].sort() : got).join() !== expected)
        failed(kind, saga, `its refunds ended ${got.join(', ')}, not ${expected}`);
      // What the refunds made of the order (the invariants check the money, the units and Stripe).
      const status = (await stack.services.orders.get(saga.orderId))?.status ?? 'none';
      statuses[`${kind}: ${status}`] = (statuses[`${kind}: ${status}`] ?? 0) + 1;
      const units = saga.lines.reduce((sum, l) => sum + l.quantity, 0);
      const wanted = kind === 'lines' && units > 1 ? 'PARTIALLY_REFUNDED' : 'REFUNDED';
      if (status !== wanted) failed(kind, saga, `the order is ${status} after its refunds, not ${wanted}`);
    }
    return {
      sagas,
      details: { orderStatuses: statuses, refunds: summarizeRefunds(sagas), phasesMs: watch.laps },
    };
  },
};
