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

/** The cases a reset is tried on, each reset to every point in the full run. */
export const RESET_CASES: readonly OperatorCase[] = [
  { phase: 'placing', hold: held('createOrder', 'end'), plan: 'pay' },
  { phase: 'awaiting-payment', plan: 'pay' },
  { phase: 'awaiting-payment', plan: 'cancel' },
  { phase: 'awaiting-payment', plan: 'expire', ttlSeconds: SHORT_TTL_SECONDS },
  { phase: 'charging', hold: held('chargePayment', 'atStripe'), plan: 'pay' },
  { phase: 'charging', hold: held('chargePayment', 'atStripe'), plan: 'expire', ttlSeconds: SHORT_TTL_SECONDS },
  { phase: 'charging', hold: held('chargePayment', 'start'), plan: 'pay' },
  { phase: 'fulfilling', hold: held('commitStock', 'end'), plan: 'pay' },
  { phase: 'fulfilling', hold: held('setOrderStatus', 'start', 'PAID'), plan: 'pay' },
  { phase: 'fulfilling', hold: held('clearCart', 'end'), plan: 'pay' },
  { phase: 'ended', plan: 'pay' },
  { phase: 'ended', plan: 'cancel' },
];

/**
 * The quick run's resets: one per phase and each point once. The middle task of a saga held after
 * its cart was cleared always comes after the order started waiting for payment.
 */
export const QUICK_RESETS: readonly OperatorReset[] = [
  { case: { phase: 'awaiting-payment', plan: 'pay' }, point: 'first' },
  { case: { phase: 'charging', hold: held('chargePayment', 'atStripe'), plan: 'pay' }, point: 'last' },
  { case: { phase: 'fulfilling', hold: held('clearCart', 'end'), plan: 'pay' }, point: 'middle' },
  { case: { phase: 'ended', plan: 'pay' }, point: 'last' },
];

/** Every case, reset to every point. */
export const ALL_RESETS: readonly OperatorReset[] = RESET_POINTS.flatMap((point) =>
  RESET_CASES.map((c) => ({ case: c, point })),
);

/** The cases a termination (then a repair) is tried on. */
export const TERMINATE_CASES: readonly OperatorCase[] = [
  { phase: 'placing', hold: held('createOrder', 'end'), plan: 'pay' },
  { phase: 'placing', hold: held('reserveStock', 'start'), plan: 'cancel' },
  { phase: 'awaiting-payment', plan: 'pay' },
  { phase: 'awaiting-payment', plan: 'cancel' },
  { phase: 'awaiting-payment', plan: 'expire', ttlSeconds: SHORT_TTL_SECONDS },
  // Stripe charged and its answer is lost with the run: the customer pays again (same attempt, same key) or gives up.
  { phase: 'charging', hold: held('chargePayment', 'atStripe'), plan: 'pay' },
  { phase: 'charging', hold: held('chargePayment', 'atStripe'), plan: 'expire', ttlSeconds: SHORT_TTL_SECONDS },
  // The charge goes on in the worker after the run is gone, and takes the money.
  { phase: 'charging', hold: held('chargePayment', 'start'), plan: 'pay' },
  { phase: 'fulfilling', hold: held('commitStock', 'end'), plan: 'pay' },
  { phase: 'fulfilling', hold: held('setOrderStatus', 'end', 'PAID'), plan: 'pay' },
  { phase: 'fulfilling', hold: held('clearCart', 'start'), plan: 'pay' },
];

/**
 * The quick run's terminations: one per phase, each repaired, and the charge whose answer is lost
 * with the run on an order that then expires unpaid (the money must come back).
 */
export const QUICK_TERMINATIONS: readonly OperatorCase[] = [
  { phase: 'placing', hold: held('createOrder', 'end'), plan: 'pay' },
  { phase: 'awaiting-payment', plan: 'cancel' },
  { phase: 'charging', hold: held('chargePayment', 'atStripe'), plan: 'pay' },
  { phase: 'charging', hold: held('chargePayment', 'atStripe'), plan: 'expire', ttlSeconds: SHORT_TTL_SECONDS },
  { phase: 'fulfilling', hold: held('setOrderStatus', 'end', 'PAID'), plan: 'pay' },
];
