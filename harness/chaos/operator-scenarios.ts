/**
 * The chaos scenarios in which an operator steps in with Temporal's own tools: checkouts reset to
 * a workflow task, and checkouts terminated and then repaired (`npm run ops -- repair`), each at a
 * phase of the saga; the customer then goes on as a customer would. The invariants are checked over
 * these sagas with all the others at the end of the run.
 */
import { checkoutStateQuery } from '../../workflows/contract';
import { describeBoundary } from './boundaries';
import type { OperatorCase } from './operator-cases';
import { delay, finalStatus, type Saga, type SagaPlan } from './sagas';
import type { Scenario, ScenarioContext } from './scenarios';

function describeCase(c: OperatorCase): string {
  return `${c.phase}${c.hold ? ` (${describeBoundary(c.hold)})` : ''}, then ${c.plan}`;
}

/** Waits for a condition checked every 250 ms; false when the deadline passed first. */
async function eventually(check: () => Promise<boolean>, deadline: number): Promise<boolean> {
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) return false;
    await delay(250);
  }
  return true;
}

/** Waits until the saga is held at its boundary; false when the deadline passed first. */
function pausedAt(ctx: ScenarioContext, id: string, deadline: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(
      () => {
        stop();
        resolve(false);
      },
      Math.max(0, deadline - Date.now()),
    );
    const stop = ctx.stack.onPause((report) => {
      if (report.id !== id) return;
      stop();
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** A saga brought to its phase, held there if its case says so, for the operator to act on. */
interface Caught {
  /** The customer's payment in flight, when the saga was caught paying. */
  paying?: Promise<string>;
  /** Lets the held activity go on (a no-op when nothing is held). */
  release(): void;
  reached: boolean;
}

async function bringTo(ctx: ScenarioContext, saga: Saga, c: OperatorCase, deadline: number): Promise<Caught> {
  const { driver, stack } = ctx;
  if (c.phase === 'ended') {
    await driver.drive(saga, deadline);
    await driver.settle([saga], deadline);
    return { release: () => undefined, reached: true };
  }
  if (!c.hold) {
    await driver.place(saga, deadline);
    return { release: () => undefined, reached: true };
  }
  const id = `operator-${saga.orderId}`;
  if (c.phase !== 'placing') await driver.place(saga, deadline);
  // Listening from the arming on: a busy machine may take long to place the order, not to reach the boundary.
  const paused = pausedAt(ctx, id, deadline);
  stack.arm([{ ...c.hold, id, orderId: saga.orderId, customerId: saga.customerId }]);
  let paying: Promise<string> | undefined;
  if (c.phase === 'placing') await driver.start(saga, deadline);
  else paying = driver.pay(saga, deadline).catch((error: Error) => `gave up: ${error.message}`);
  const reached = await paused;
  if (!reached) stack.disarm([id]);
  return { paying, reached, release: () => stack.release([id]) };
}

/**
 * The customer goes on after the operator: pays (a new request: the old one's answer is lost with
 * its run), cancels, or lets the order expire; an order that no longer awaits payment is left alone.
 * An order still waiting must wait until the deadline it was given when it was placed, the one the
 * orders database (and so the customer) has, whichever run waits for it now.
 */
async function customerGoesOn(
  ctx: ScenarioContext,
  scenario: string,
  saga: Saga,
  plan: SagaPlan,
  deadline: number,
): Promise<void> {
  const { driver } = ctx;
  const placed = await driver.placed(saga, deadline);
  saga.events.push(`after the operator: ${placed.execution} ${placed.orderStatus ?? '?'}`);
  if (placed.execution !== 'RUNNING' || placed.orderStatus !== 'AWAITING_PAYMENT') return;
  const [state, order] = await Promise.all([
    driver
      .handle(saga)
      .query(checkoutStateQuery)
      .catch(() => undefined),
    ctx.stack.services.orders.get(saga.orderId),
  ]);
  const recorded = order?.expiresAt?.toISOString();
  if (state?.expiresAt && recorded && Date.parse(state.expiresAt) !== Date.parse(recorded))
    ctx.violations.push({
      invariant: 'deadline-kept',
      orderId: saga.orderId,
      scenario,
      detail: `the order waits until ${state.expiresAt} in its workflow, ${recorded} in the orders database`,
    });
  if (plan === 'pay') await driver.pay(saga, deadline, `pay-again-${saga.orderId}`);
  else if (plan === 'cancel') await driver.cancel(saga, deadline, `cancel-again-${saga.orderId}`);
}

/** What a saga parked in NEEDS_ATTENTION says of why, for the report (the operator's first question). */
async function explainParked(ctx: ScenarioContext, sagas: readonly Saga[]): Promise<void> {
  for (const saga of sagas) {
    if (saga.final?.execution !== 'RUNNING' || saga.final.orderStatus !== 'NEEDS_ATTENTION') continue;
    const state = await ctx.driver
      .handle(saga)
      .query(checkoutStateQuery)
      .catch(() => undefined);
    if (!state) continue;
    saga.final.state = state;
    saga.events.push(
      `parked: ${state.failure?.code ?? '?'}: ${state.failure?.message ?? '?'} (done: ${state.completedSteps.join(', ')}; undone: ${state.compensatedSteps.join(', ') || 'nothing'})`,
    );
  }
}

/** One saga in the report: its case, how it ended, and what the driver saw on the way. */
function storyOf(saga: Saga, what: string): { orderId: string; case: string; outcome: string; events: string[] } {
  return { orderId: saga.orderId, case: what, outcome: finalStatus(saga), events: saga.events };
}

/** A boundary that was never reached is a scenario promise broken, as in the worker kills. */
function notReached(ctx: ScenarioContext, scenario: string, saga: Saga, c: OperatorCase): void {
  ctx.violations.push({
    invariant: 'boundary-reached',
    orderId: saga.orderId,
    scenario,
    detail: `the saga never reached ${c.hold ? describeBoundary(c.hold) : c.phase} for the operator to act there`,
  });
}

// ---------------------------------------------------------------------------------------------

/**
 * Plays each case on a saga of its own, all at once: brings the saga to its case's point, lets the
 * operator `act` there, then its customer goes on as planned; then settles them all and explains
 * those left parked.
 */
async function playCases<Play extends { case: OperatorCase }>(
  ctx: ScenarioContext,
  scenario: string,
  customers: string,
  plays: readonly Play[],
  act: (saga: Saga, caught: Caught, play: Play, deadline: number) => Promise<void>,
): Promise<Saga[]> {
  const { driver, options } = ctx;
  const sagas = plays.map(({ case: c }, i) =>
    driver.plan({ scenario, customerId: `${customers}-c${i}`, plan: c.plan, ttlSeconds: c.ttlSeconds }),
  );
  await driver.fillCarts(sagas);
  const deadline = Date.now() + options.settleMs;
  await Promise.all(
    plays.map(async (play, i) => {
      const saga = sagas[i]!;
      try {
        const caught = await bringTo(ctx, saga, play.case, deadline);
        if (!caught.reached) notReached(ctx, scenario, saga, play.case);
        await act(saga, caught, play, deadline);
        if (caught.paying) saga.events.push(`the payment in flight: ${await caught.paying}`);
        if (play.case.phase === 'ended') saga.final = undefined;
        else await customerGoesOn(ctx, scenario, saga, play.case.plan, deadline);
      } catch (error) {
        saga.events.push(`drive: ${(error as Error).message}`);
      }
    }),
  );
  await driver.settle(sagas, deadline);
  await explainParked(ctx, sagas);
  return sagas;
}

export const workflowReset: Scenario = {
  name: 'workflow-reset',
  description:
    "Reset checkouts to their first, middle and last completed workflow task (Temporal's reset API, as `temporal workflow reset` calls it) " +
    'while placing, awaiting payment, charging, fulfilling and after they ended; the customer then pays, cancels or lets the order expire.',
  async run(ctx) {
    const plays = ctx.options.resets;
    const sagas = await playCases(ctx, this.name, 'reset', plays, async (saga, caught, { point }, deadline) => {
      const done = await ctx.operator.reset(saga.orderId, point, deadline);
      caught.release();
      saga.events.push(
        `reset to the ${point} workflow task (event ${done.eventId} of ${done.workflowTasks} tasks, which decided: ${done.decided.join(', ') || 'nothing'})`,
      );
    });
    return {
      sagas,
      details: {
        resets: plays.length,
        sagas: plays.map(({ case: c, point }, i) => storyOf(sagas[i]!, `${describeCase(c)}, reset to the ${point}`)),
      },
    };
  },
};

export const workflowTerminate: Scenario = {
  name: 'workflow-terminate',
  description:
    'Terminate checkouts while placing, awaiting payment, charging (Stripe charged and its answer lost, or the charge let go on after the run is gone) ' +
    'and fulfilling; the reconciler must name each stranded order, and the operator repairs it as `npm run ops -- repair` does (a recovery run adopts it); ' +
    'the customer then pays again, cancels or gives up.',
  async run(ctx) {
    const { services } = ctx.stack;
    const plays = ctx.options.terminations.map((c) => ({ case: c }));
    const sagas = await playCases(ctx, this.name, 'terminate', plays, async (saga, caught, { case: c }, deadline) => {
      await ctx.operator.terminate(saga.orderId, deadline);
      saga.events.push('terminated');
      // The held activity goes on in the worker, its result lost with the run; what it does is the
      // services' to keep (a charge let go on is waited for: the operator repairs what it left).
      caught.release();
      if (c.hold?.activity === 'chargePayment' && c.hold.phase === 'start')
        await eventually(async () => (await services.payments.get(saga.orderId))?.status === 'SUCCEEDED', deadline);
      // The operator repairs the order the reconciler names: recorded once its createOrder ran, or only
      // its stock held when the run ended before that (the held reservation goes on after the run).
      await eventually(
        async () =>
          (await services.orders.get(saga.orderId)) !== null ||
          (await services.inventory.findReservation(saga.orderId)) !== null,
        deadline,
      );
      const named = await ctx.operator.strandedFindings(saga.orderId);
      saga.events.push(`reconcile: ${named.join('; ') || 'nothing named'}`);
      if (named.length === 0)
        ctx.violations.push({
          invariant: 'order-has-workflow',
          orderId: saga.orderId,
          scenario: this.name,
          detail: 'the reconciler did not name the order its terminated checkout left open',
        });
      const repaired = await ctx.operator.repair(saga.orderId, deadline);
      saga.events.push(`repair: ${repaired.action}: ${repaired.detail}`);
    });
    return {
      sagas,
      details: {
        terminations: plays.length,
        sagas: plays.map(({ case: c }, i) => storyOf(sagas[i]!, `${describeCase(c)}, terminated and repaired`)),
      },
    };
  },
};
