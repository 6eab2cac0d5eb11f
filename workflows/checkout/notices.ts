/** What the checkout tells its customer besides the order's status (dashboard events, the decline notice), and what Stripe's webhooks tell it. */
import { log, proxyActivities } from '@temporalio/workflow';
import type { NotificationActivities } from '../../activities/notifications.activities';
import { ACTIVITY_OPTIONS } from '../activity-options';
import { MAX_KEPT_PAYMENT_EVENTS, type CheckoutState, type PaymentEventInput } from '../contract';
import { failureOf } from './failures';
import { stepSummaries as summaries } from './summaries';

const notifications = proxyActivities<NotificationActivities>(ACTIVITY_OPTIONS.notifications);
const statusEvents = proxyActivities<NotificationActivities>(ACTIVITY_OPTIONS.statusEvents);

/**
 * Persists the order's current status as an event for the customer's open dashboard; the checkout
 * chains these so they arrive in order without holding the saga up. Best effort: the status itself
 * is in the orders database already.
 */
export async function persistStatusEvent(state: Readonly<CheckoutState>): Promise<void> {
  const { orderId, customerId, status, totalCents, currency } = state;
  const event = { orderId, status, totalCents, currency, failure: state.failure ?? null };
  try {
    await statusEvents.persistNotification.executeWithOptions({ summary: summaries.notifyStatus(customerId, status) }, [
      {
        userId: customerId,
        kind: 'ORDER',
        type: 'order.status',
        dedupeKey: `order:${orderId}:${status}`,
        payload: event,
      },
    ]);
  } catch (error) {
    log.warn('Order status event not delivered', { orderId, status, error: failureOf(error).message });
  }
}

/** Tells the customer their card was declined and that the order can still be paid; best effort. */
export async function notifyDeclined(state: Readonly<CheckoutState>, message: string, details: unknown): Promise<void> {
  const { orderId, customerId, declinedAttempts: attempt } = state;
  const payload = { orderId, message, attempt, expiresAt: state.expiresAt ?? null, details: details ?? null };
  await notifications.notifyUser
    .executeWithOptions({ summary: summaries.notifyDeclined(customerId, attempt) }, [
      {
        userId: customerId,
        kind: 'NOTIFICATION',
        type: 'payment.declined',
        payload,
        dedupeKey: `order:${orderId}:declined:${attempt}`,
      },
    ])
    .catch(() => undefined);
}

/** Stripe delivers at least once and in any order: each event is kept once, and no more than the cap (the rest counted). */
export function keepPaymentEvent(state: CheckoutState, event: PaymentEventInput): void {
  const events = (state.paymentEvents ??= []);
  if (events.some((seen) => seen.eventId === event.eventId)) return;
  if (events.length < MAX_KEPT_PAYMENT_EVENTS) events.push(event);
  else state.paymentEventsBeyondCap = (state.paymentEventsBeyondCap ?? 0) + 1;
}

/** What an event says of its PaymentIntent's fate, if it settles one. */
export function verdictOf(event: PaymentEventInput): { paymentIntentId: string; succeeded: boolean } | undefined {
  if (event.type !== 'payment_intent.succeeded' && event.type !== 'payment_intent.payment_failed') return undefined;
  return { paymentIntentId: event.paymentIntentId, succeeded: event.type === 'payment_intent.succeeded' };
}
