/**
 * The checkout saga: quota → order → stock → (payment | cancel | expiry) → charge →
 * commit and mark paid → clear cart → notify. Each forward step registers its
 * compensation before it runs; on failure, cancel or expiry the compensations run newest
 * first in a scope that cancellation cannot interrupt.
 */
import {
  ActivityFailure,
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  condition,
  isCancellation,
  log,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { CartActivities } from '../activities/cart.activities';
import type { InventoryActivities } from '../activities/inventory.activities';
import type { NotificationActivities } from '../activities/notifications.activities';
import type { OrdersActivities } from '../activities/orders.activities';
import type { PaymentsActivities } from '../activities/payments.activities';
import type { createQuotaActivities } from '../activities/quota.activities';
import { ACTIVITY_OPTIONS } from './activity-options';
import {
  cancelSignal,
  cancelUpdate,
  checkoutStateQuery,
  CUSTOMER_ID_KEY,
  FAILURE_CODES,
  operatorActionSignal,
  ORDER_STATUS_KEY,
  orderTotalCents,
  paymentEventSignal,
  payUpdate,
  placedUpdate,
  type CancelInput,
  type CheckoutFailure,
  type CheckoutInput,
  type CheckoutResult,
  type CheckoutState,
  type CheckoutStep,
  type OperatorActionInput,
  type OrderStatus,
  type PayInput,
  type PaymentEventInput,
  TERMINAL_ORDER_STATUSES,
} from './contract';
import { formatMoney, needsAttentionDetails, stepSummaries as summaries } from './summaries';

const quota = proxyActivities<ReturnType<typeof createQuotaActivities>>(ACTIVITY_OPTIONS.quota);
const orders = proxyActivities<OrdersActivities>(ACTIVITY_OPTIONS.orders);
const inventory = proxyActivities<InventoryActivities>(ACTIVITY_OPTIONS.inventory);
const payments = proxyActivities<PaymentsActivities>(ACTIVITY_OPTIONS.payments);
const cart = proxyActivities<CartActivities>(ACTIVITY_OPTIONS.cart);
const notifications = proxyActivities<NotificationActivities>(ACTIVITY_OPTIONS.notifications);
const statusEvents = proxyActivities<NotificationActivities>(ACTIVITY_OPTIONS.statusEvents);

/** Failures that reject the order rather than fail it: the customer asked for what cannot be had. */
const REJECTING_CODES: readonly string[] = [FAILURE_CODES.outOfStock, FAILURE_CODES.quotaExceeded, FAILURE_CODES.unknownProduct];

/** Ids of patch() guards; each stays until no running workflow predates its change. */
export const PATCHES = {
  notifyDeclinedPayment: 'notify-declined-payment',
  leaveEndedOrder: 'leave-ended-order',
  expireAtExpiresAt: 'expire-at-expires-at',
  persistStatusDirectly: 'persist-status-directly',
} as const;

const isSettled = (status: OrderStatus): boolean => TERMINAL_ORDER_STATUSES.includes(status) || status === 'NEEDS_ATTENTION';

interface Compensation {
  step: string;
  run: () => Promise<unknown>;
}

/** Why the saga unwinds, and the status the order ends in once it has. */
interface Unwind {
  status: Extract<OrderStatus, 'REJECTED' | 'EXPIRED' | 'CANCELLED' | 'FAILED'>;
  reason: string;
  failure?: CheckoutFailure;
}

export async function checkoutWorkflow(input: CheckoutInput): Promise<CheckoutResult> {
  const { orderId, customerId } = input;
  const totalCents = orderTotalCents(input.lines);
  const state: CheckoutState = {
    orderId,
    customerId,
    status: 'PENDING',
    totalCents,
    currency: input.currency,
    completedSteps: [],
    compensatedSteps: [],
    declinedAttempts: 0,
  };
  const compensations: Compensation[] = [];

  // --- what the outside world can ask and tell -------------------------------------------
  let cancelRequest: CancelInput | undefined;
  let charging = false;
  let paid = false;
  let timeUp = false;
  let chargeFailure: CheckoutFailure | undefined;
  let operatorAction: OperatorActionInput | undefined;

  const payable = (): boolean => state.status === 'AWAITING_PAYMENT' && !charging && !paid && !timeUp && !cancelRequest && !chargeFailure;

  setHandler(checkoutStateQuery, () => state);
  setHandler(placedUpdate, async () => {
    await condition(() => state.status !== 'PENDING');
    return state;
  });
  setHandler(paymentEventSignal, (event: PaymentEventInput) => {
    // Stripe delivers at least once and in any order: keep each event once, never act twice.
    const events = (state.paymentEvents ??= []);
    if (!events.some((seen) => seen.eventId === event.eventId)) events.push(event);
  });

  setHandler(
    payUpdate,
    async (pay: PayInput) => {
      charging = true;
      const attempt = state.declinedAttempts + 1;
      setCurrentDetails(`Charging ${formatMoney(totalCents, input.currency)} (attempt ${attempt})`);
      try {
        const charge = await payments.chargePayment.executeWithOptions({ summary: summaries.chargePayment(totalCents, input.currency, attempt) }, [
          { orderId, amountCents: totalCents, currency: input.currency, paymentMethod: pay.paymentMethod, attempt },
        ]);
        paid = true;
        state.paymentIntentId = charge.paymentIntentId;
        completed('paymentCharged');
      } catch (error) {
        const failure = failureOf(error);
        if (failure.code === FAILURE_CODES.paymentDeclined) {
          state.declinedAttempts += 1;
          log.info('Payment declined', { orderId, attempt, code: failure.code });
          setCurrentDetails(awaitingPaymentDetails());
          // Added after workflows were already running: patched() keeps histories recorded
          // before this change replaying (see README "Changing a workflow").
          if (patched(PATCHES.notifyDeclinedPayment)) await notifyDeclined(failure.message, detailsOf(error));
          // The order stays payable until it expires.
          throw ApplicationFailure.nonRetryable(failure.message, failure.code, detailsOf(error));
        }
        chargeFailure = failure;
        throw ApplicationFailure.nonRetryable(failure.message, failure.code);
      } finally {
        charging = false;
      }
      // Answer with the order as it ends: completed, or unwound if a later step failed.
      await condition(() => isSettled(state.status));
      return state;
    },
    {
      validator: (pay: PayInput) => {
        if (pay.customerId !== customerId) throw ApplicationFailure.nonRetryable('Not your order', 'ORDER_NOT_FOUND');
        if (!payable()) {
          throw ApplicationFailure.nonRetryable(
            charging ? 'A payment for this order is already in progress' : `The order is ${paid ? 'already paid' : state.status.toLowerCase()}`,
            FAILURE_CODES.orderNotPayable,
          );
        }
      },
    },
  );

  const requestCancel = (request: CancelInput) => {
    if (state.status === 'PENDING' || payable()) cancelRequest ??= request;
  };
  setHandler(cancelSignal, requestCancel);
  setHandler(
    cancelUpdate,
    async (request: CancelInput) => {
      requestCancel(request);
      await condition(() => isSettled(state.status));
      return state;
    },
    {
      validator: (_request: CancelInput) => {
        if (!(state.status === 'PENDING' || payable())) {
          throw ApplicationFailure.nonRetryable(`The order is ${paid || charging ? 'being paid' : state.status.toLowerCase()}`, 'ORDER_NOT_CANCELLABLE');
        }
      },
    },
  );

  setHandler(operatorActionSignal, (action: OperatorActionInput) => {
    if (state.status === 'NEEDS_ATTENTION') operatorAction = action;
  });

  // --- helpers -----------------------------------------------------------------------------
  function completed(step: CheckoutStep): void {
    state.completedSteps.push(step);
  }

  function awaitingPaymentDetails(): string {
    const declined = state.declinedAttempts > 0 ? ` (${state.declinedAttempts} declined)` : '';
    return `Awaiting payment of ${formatMoney(totalCents, input.currency)} until ${state.expiresAt}${declined}`;
  }

  async function setStatus(status: OrderStatus, extra: { reason?: string; failureCode?: string; expiresAt?: string } = {}): Promise<void> {
    await orders.setOrderStatus.executeWithOptions({ summary: summaries.setOrderStatus(status) }, [{ orderId, status, ...extra }]);
    state.status = status;
    upsertSearchAttributes([{ key: ORDER_STATUS_KEY, value: status }]);
    log.info('Order status changed', { orderId, status, ...(extra.reason ? { reason: extra.reason } : {}) });
    await pushStatus(status);
  }

  /**
   * Status events for the customer's open dashboard, persisted one after another in the order the
   * statuses changed, while the saga goes on. The workflow ends only once they are through.
   */
  let statusEventsSent: Promise<void> = Promise.resolve();

  /** Tells the customer's open dashboard; best effort, the status itself is already stored. */
  async function pushStatus(status: OrderStatus): Promise<void> {
    const notification = {
      userId: customerId,
      kind: 'ORDER' as const,
      type: 'order.status',
      payload: { orderId, status, totalCents, currency: input.currency, failure: state.failure ?? null },
      dedupeKey: `order:${orderId}:${status}`,
    };
    const summary = summaries.notifyStatus(customerId, status);
    // Status events used to be signalled to the user's notification workflow and waited for: a
    // signal, two workflow tasks and an activity there per status (a quarter of the server's work
    // per checkout) for ordering and dedupe that this chain and the dedupe key already give.
    if (patched(PATCHES.persistStatusDirectly)) {
      statusEventsSent = statusEventsSent.then(() =>
        // Not cancellable: cancelling the workflow must not swallow the event that says so.
        CancellationScope.nonCancellable(() => statusEvents.persistNotification.executeWithOptions({ summary }, [notification])).then(
          () => undefined,
          (error: unknown) => log.warn('Order status event not delivered', { orderId, status, error: failureOf(error).message }),
        ),
      );
      return;
    }
    try {
      await notifications.notifyUser.executeWithOptions({ summary }, [notification]);
    } catch (error) {
      if (isCancellation(error)) throw error;
    }
  }

  /** Tells the customer their card was declined and that the order can still be paid. */
  async function notifyDeclined(message: string, details: unknown): Promise<void> {
    try {
      await notifications.notifyUser.executeWithOptions({ summary: summaries.notifyDeclined(customerId, state.declinedAttempts) }, [{
        userId: customerId,
        kind: 'NOTIFICATION',
        type: 'payment.declined',
        payload: { orderId, message, attempt: state.declinedAttempts, expiresAt: state.expiresAt ?? null, details: details ?? null },
        dedupeKey: `order:${orderId}:declined:${state.declinedAttempts}`,
      }]);
    } catch (error) {
      if (isCancellation(error)) throw error;
    }
  }

  /** Runs the compensations newest first, then records how the order ended. */
  async function unwind(why: Unwind): Promise<void> {
    state.failure ??= why.failure;
    await CancellationScope.nonCancellable(async () => {
      for (const compensation of [...compensations].reverse()) {
        setCurrentDetails(`Undoing ${compensation.step} (${why.status}: ${why.reason})`);
        await withOperatorFallback(compensation.step, compensation.run);
        state.compensatedSteps.push(compensation.step);
      }
      compensations.length = 0;
      await withOperatorFallback('recordOutcome', () => setStatus(why.status, { reason: why.reason, failureCode: state.failure?.code }));
      setCurrentDetails(`${why.status}: ${why.reason}`);
    });
  }

  /**
   * A compensation that still fails after its retries parks the order in NEEDS_ATTENTION
   * until an operator signals: 'retry' runs it again, 'resolve' says it was done by hand.
   */
  async function withOperatorFallback(step: string, run: () => Promise<unknown>): Promise<void> {
    for (;;) {
      try {
        await run();
        return;
      } catch (error) {
        state.failure = { code: 'COMPENSATION_FAILED', message: `${step}: ${failureOf(error).message}` };
        log.warn('Compensation failed; the order needs an operator', { orderId, step, error: failureOf(error).message });
        setCurrentDetails(needsAttentionDetails(orderId, step, failureOf(error).message));
        if (state.status !== 'NEEDS_ATTENTION') {
          try {
            await setStatus('NEEDS_ATTENTION', { reason: state.failure.message, failureCode: state.failure.code });
          } catch {
            // The orders service is down too; the workflow's own state and search attribute still say so.
            state.status = 'NEEDS_ATTENTION';
            upsertSearchAttributes([{ key: ORDER_STATUS_KEY, value: 'NEEDS_ATTENTION' }]);
          }
        }
        await condition(() => operatorAction !== undefined);
        const action = operatorAction!;
        operatorAction = undefined;
        log.info('Operator action', { orderId, step, action: action.action, note: action.note });
        setCurrentDetails(action.action === 'resolve' ? `Resolved by an operator: ${step}` : `Retrying ${step} (operator)`);
        if (action.action === 'resolve') return;
      }
    }
  }

  upsertSearchAttributes([
    { key: ORDER_STATUS_KEY, value: state.status },
    { key: CUSTOMER_ID_KEY, value: customerId },
  ]);

  // --- the saga ----------------------------------------------------------------------------
  try {
    setCurrentDetails(`Placing the order: ${formatMoney(totalCents, input.currency)}`);
    compensations.push({
      step: 'quotaChecked',
      run: () => quota.releaseOrderQuota.executeWithOptions({ summary: summaries.releaseOrderQuota(customerId) }, [{ userId: customerId, orderId }]),
    });
    let quotaRefusal: unknown;
    try {
      await quota.reserveOrderQuota.executeWithOptions({ summary: summaries.reserveOrderQuota(customerId) }, [{ userId: customerId, orderId }]);
      completed('quotaChecked');
    } catch (error) {
      quotaRefusal = error;
    }

    // The order is recorded even when the quota refuses it, so the customer can see why.
    // Its compensation is the final status that unwind() records.
    const created = await orders.createOrder.executeWithOptions({ summary: summaries.createOrder(orderId, input.lines, totalCents, input.currency) }, [orderRecord(input)]);
    completed('orderCreated');
    // A second run of an order id whose first run ended (started without REJECT_DUPLICATE, or after
    // the namespace's retention) finds the order past PENDING. It owns none of that order's steps:
    // it must not unwind them (refund a paid order, give its stock back). Found by the chaos run.
    if (created.status !== 'PENDING' && patched(PATCHES.leaveEndedOrder)) return await leaveEndedOrder(created.status);
    if (quotaRefusal) throw quotaRefusal;

    compensations.push({
      step: 'stockReserved',
      run: () => inventory.releaseStock.executeWithOptions({ summary: summaries.releaseStock(orderId) }, [{ orderId }]),
    });
    await inventory.reserveStock.executeWithOptions({ summary: summaries.reserveStock(input.lines) }, [
      { orderId, lines: input.lines.map(({ productId, quantity }) => ({ productId, quantity })) },
    ]);
    completed('stockReserved');

    // Refund-or-cancel is registered before the first charge attempt: it is a no-op when
    // nothing was charged, and cancels the PaymentIntent a declined attempt left behind.
    compensations.push({
      step: 'paymentCharged',
      run: () => payments.refundPayment.executeWithOptions({ summary: summaries.refundPayment(orderId) }, [{ orderId, reason: state.failure?.code }]),
    });
    const expiresAt = new Date(Date.now() + input.ttlSeconds * 1000).toISOString();
    state.expiresAt = expiresAt;
    await setStatus('AWAITING_PAYMENT', { expiresAt });
    setCurrentDetails(awaitingPaymentDetails());

    // The race of payment against expiry is decided here, in one place: once the timer has
    // fired no new payment is accepted, and a charge already in flight settles the race.
    // The timer runs until the expiresAt the customer was shown. It used to run for the full
    // time-to-live from after the status write and its push, so every order expired late by
    // however long those two activities took (seconds under load; found by the timers benchmark).
    const timeToLiveMs = patched(PATCHES.expireAtExpiresAt) ? Math.max(0, Date.parse(expiresAt) - Date.now()) : input.ttlSeconds * 1000;
    const timer = CancellationScope.cancellable(async () => {
      await sleep(timeToLiveMs, { summary: summaries.expiryTimer(input.ttlSeconds) });
      timeUp = true;
    });
    timer.catch(() => undefined);
    await condition(() => !charging && (paid || timeUp || cancelRequest !== undefined || chargeFailure !== undefined));

    if (!paid) {
      if (chargeFailure) throw ApplicationFailure.nonRetryable(chargeFailure.message, chargeFailure.code);
      const why: Unwind = cancelRequest
        ? { status: 'CANCELLED', reason: cancelRequest.reason ?? 'Cancelled by the customer' }
        : { status: 'EXPIRED', reason: `Not paid within ${input.ttlSeconds} s` };
      await unwind(why);
      return await finish();
    }

    // Once paid, cancelling the workflow no longer interrupts it: the customer gets the goods.
    await CancellationScope.nonCancellable(async () => {
      setCurrentDetails('Paid: selling the stock and clearing the cart');
      await inventory.commitStock.executeWithOptions({ summary: summaries.commitStock(input.lines) }, [{ orderId }]);
      completed('stockCommitted');
      await setStatus('PAID');
      completed('orderPaid');

      // Forward only from here: clearing the cart retries until it succeeds and never refunds.
      compensations.length = 0;
      await cart.clearCart.executeWithOptions({ summary: summaries.clearCart(customerId, input.lines) }, [
        { orderId, userId: customerId, lines: input.lines.map(({ productId, quantity }) => ({ productId, quantity })) },
      ]);
      completed('cartCleared');
      await setStatus('COMPLETED');
      completed('customerNotified');
      setCurrentDetails('COMPLETED');
    });
    return await finish();
  } catch (error) {
    if (isCancellation(error)) {
      await unwind({ status: 'CANCELLED', reason: 'The workflow was cancelled' });
      return await finish();
    }
    const failure = failureOf(error);
    await unwind({
      status: REJECTING_CODES.includes(failure.code) ? 'REJECTED' : 'FAILED',
      reason: failure.message,
      failure,
    });
    return await finish();
  }

  /** Answers a second run with the order as its first run left it, and undoes nothing of it. */
  async function leaveEndedOrder(status: OrderStatus): Promise<CheckoutResult> {
    // An order that ended unpaid gave its quota unit back (or never had one): give back the one this
    // run may have taken for it (a no-op otherwise). A completed or parked order keeps its unit.
    if (TERMINAL_ORDER_STATUSES.includes(status) && status !== 'COMPLETED') {
      await quota.releaseOrderQuota.executeWithOptions({ summary: summaries.releaseOrderQuota(customerId) }, [{ userId: customerId, orderId }]);
    }
    setCurrentDetails(`The order had already ended (${status}) in an earlier run: left as it was`);
    state.status = status;
    upsertSearchAttributes([{ key: ORDER_STATUS_KEY, value: status }]);
    return finish();
  }

  /** Lets pay and cancel callers receive their answers, and the status events get through, before the workflow completes. */
  async function finish(): Promise<CheckoutResult> {
    await statusEventsSent;
    await condition(allHandlersFinished);
    return state;
  }
}

function orderRecord(input: CheckoutInput) {
  return {
    orderId: input.orderId,
    customerId: input.customerId,
    lines: input.lines,
    currency: input.currency,
    idempotencyKey: input.idempotencyKey,
    requestHash: input.requestHash,
  };
}

/** The code and message of a failure, from an activity's ApplicationFailure when there is one. */
function failureOf(error: unknown): CheckoutFailure {
  const cause = error instanceof ActivityFailure ? error.cause : error;
  if (cause instanceof ApplicationFailure) {
    return { code: cause.type ?? 'FAILED', message: cause.message };
  }
  if (cause instanceof Error) return { code: 'FAILED', message: cause.message };
  return { code: 'FAILED', message: String(cause) };
}

function detailsOf(error: unknown): unknown {
  const cause = error instanceof ActivityFailure ? error.cause : error;
  return cause instanceof ApplicationFailure ? cause.details?.[0] : undefined;
}
