/**
 * Where in a checkout the chaos run's operator steps in (operator-scenarios.ts): the saga's phase,
 * the activity boundary it is held at meanwhile, and what its customer does afterwards; and the
 * cases the full and the quick run play.
 */
import type { Boundary } from './boundaries';
import { RESET_POINTS, type ResetPoint } from './operator';
import type { SagaPlan } from './sagas';

/** Where in the saga the operator steps in. */
export type Phase = 'placing' | 'awaiting-payment' | 'charging' | 'fulfilling' | 'ended';

/**
 * One saga's case: the phase, the activity boundary the saga is held at while the operator acts
 * (held in the worker, or for `atStripe` the charge's answer held by the Stripe proxy; none where
 * the saga rests: awaiting payment, or ended), and what the customer does.
 */
export interface OperatorCase {
  phase: Phase;
  hold?: Boundary;
  plan: SagaPlan;
  /** A short time-to-live, for the customers who never pay: the order must expire at its first deadline. */
  ttlSeconds?: number;
}

const SHORT_TTL_SECONDS = 45;

const held = (activity: string, phase: Boundary['phase'], status?: string): Boundary => ({
  activity,
  phase,
  ...(status ? { status } : {}),
});

/** A case and the workflow task its checkout is reset to. */
export interface OperatorReset {
  case: OperatorCase;
  point: ResetPoint;
}

/** The cases, by name: the lists below pick from them. */
const CASES = {
  placed: { phase: 'placing', hold: held('createOrder', 'end'), plan: 'pay' },
  reservingThenCancelled: { phase: 'placing', hold: held('reserveStock', 'start'), plan: 'cancel' },
  waitingThenPaid: { phase: 'awaiting-payment', plan: 'pay' },
  waitingThenCancelled: { phase: 'awaiting-payment', plan: 'cancel' },
  waitingThenExpired: { phase: 'awaiting-payment', plan: 'expire', ttlSeconds: SHORT_TTL_SECONDS },
  // Stripe charged and its answer is lost with the run: the customer pays again (same attempt, same key) or gives up.
  chargedAnswerLostThenPaid: { phase: 'charging', hold: held('chargePayment', 'atStripe'), plan: 'pay' },
  chargedAnswerLostThenExpired: {
    phase: 'charging',
    hold: held('chargePayment', 'atStripe'),
    plan: 'expire',
    ttlSeconds: SHORT_TTL_SECONDS,
  },
  // The charge goes on in the worker after the run is gone, and takes the money.
  chargingThenPaid: { phase: 'charging', hold: held('chargePayment', 'start'), plan: 'pay' },
  stockSold: { phase: 'fulfilling', hold: held('commitStock', 'end'), plan: 'pay' },
  markingPaid: { phase: 'fulfilling', hold: held('setOrderStatus', 'start', 'PAID'), plan: 'pay' },
  markedPaid: { phase: 'fulfilling', hold: held('setOrderStatus', 'end', 'PAID'), plan: 'pay' },
  clearingCart: { phase: 'fulfilling', hold: held('clearCart', 'start'), plan: 'pay' },
  cartCleared: { phase: 'fulfilling', hold: held('clearCart', 'end'), plan: 'pay' },
  completed: { phase: 'ended', plan: 'pay' },
  cancelled: { phase: 'ended', plan: 'cancel' },
} satisfies Record<string, OperatorCase>;

/** The cases a reset is tried on, each reset to every point in the full run. */
export const RESET_CASES: readonly OperatorCase[] = [
  CASES.placed,
  CASES.waitingThenPaid,
  CASES.waitingThenCancelled,
  CASES.waitingThenExpired,
  CASES.chargedAnswerLostThenPaid,
  CASES.chargedAnswerLostThenExpired,
  CASES.chargingThenPaid,
  CASES.stockSold,
  CASES.markingPaid,
  CASES.cartCleared,
  CASES.completed,
  CASES.cancelled,
];

/**
 * The quick run's resets: one per phase and each point once. The middle task of a saga held after
 * its cart was cleared always comes after the order started waiting for payment.
 */
export const QUICK_RESETS: readonly OperatorReset[] = [
  { case: CASES.waitingThenPaid, point: 'first' },
  { case: CASES.chargedAnswerLostThenPaid, point: 'last' },
  { case: CASES.cartCleared, point: 'middle' },
  { case: CASES.completed, point: 'last' },
];

/** Every case, reset to every point. */
export const ALL_RESETS: readonly OperatorReset[] = RESET_POINTS.flatMap((point) =>
  RESET_CASES.map((c) => ({ case: c, point })),
);

/** The cases a termination (then a repair) is tried on. */
export const TERMINATE_CASES: readonly OperatorCase[] = [
  CASES.placed,
  CASES.reservingThenCancelled,
  CASES.waitingThenPaid,
  CASES.waitingThenCancelled,
  CASES.waitingThenExpired,
  CASES.chargedAnswerLostThenPaid,
  CASES.chargedAnswerLostThenExpired,
  CASES.chargingThenPaid,
  CASES.stockSold,
  CASES.markedPaid,
  CASES.clearingCart,
];

/**
 * The quick run's terminations: one per phase, each repaired, and the charge whose answer is lost
 * with the run on an order that then expires unpaid (the money must come back).
 */
export const QUICK_TERMINATIONS: readonly OperatorCase[] = [
  CASES.placed,
  CASES.waitingThenCancelled,
  CASES.chargedAnswerLostThenPaid,
  CASES.chargedAnswerLostThenExpired,
  CASES.markedPaid,
];
