/**
 * The activity boundaries of the checkout saga at which the chaos run kills the worker, and how
 * the worker probe recognises one. Shared by the driver and by the probe inside the worker process.
 */

/**
 * `start`: the worker took the activity task but has done nothing yet. `end`: the activity did its
 * work and its result has not reached Temporal. `atStripe`: the charge reached Stripe (stripe-mock
 * charged) and its answer never comes back (held by the recording proxy).
 */
export type BoundaryPhase = 'start' | 'end' | 'atStripe';

/** One activity call of a saga: the activity type, and for calls made more than once, what tells them apart. */
export interface ActivityCall {
  activity: string;
  /** setOrderStatus / persistNotification: the order status the call is about. */
  status?: string;
  /** A call of the refund saga (run after the checkout completed), not of the checkout. */
  refund?: true;
}

export interface Boundary extends ActivityCall {
  phase: BoundaryPhase;
}

/** A boundary armed for one saga: the probe pauses there and reports it; the driver kills the worker. */
export interface ArmedBoundary extends Boundary {
  id: string;
  orderId: string;
  customerId: string;
  /** A refund boundary's refund (refundAtStripe knows only its refund, not the order). */
  refundId?: string;
}

/** A status change of the order: the saga records it, then pushes it to the dashboard. */
function statusChange(status: string): ActivityCall[] {
  return [
    { activity: 'setOrderStatus', status },
    { activity: 'persistNotification', status },
  ];
}

/** The paid path, in the order the saga calls them. */
export const PAID_PATH: readonly ActivityCall[] = [
  { activity: 'reserveOrderQuota' },
  { activity: 'createOrder' },
  { activity: 'reserveStock' },
  ...statusChange('AWAITING_PAYMENT'),
  { activity: 'chargePayment' },
  { activity: 'commitStock' },
  ...statusChange('PAID'),
  { activity: 'clearCart' },
  ...statusChange('COMPLETED'),
];

/** The unwinding of a cancelled order, newest compensation first (refundPayment asks Stripe only once a charge was attempted). */
export const CANCEL_PATH: readonly ActivityCall[] = [
  { activity: 'refundPayment' },
  { activity: 'releaseStock' },
  { activity: 'releaseOrderQuota' },
  ...statusChange('CANCELLED'),
];

/**
 * A full refund of a completed order with its units put back on sale, as the refund saga calls
 * them: record it against the payment, refund at Stripe, restock, record it on the order, then
 * the order's new status for the dashboard and the customer's notice (the last two carry no status
 * to match on: nothing else of the order runs by then).
 */
export const REFUND_PATH: readonly ActivityCall[] = [
  { activity: 'recordRefund', refund: true },
  { activity: 'refundAtStripe', refund: true },
  { activity: 'restockUnits', refund: true },
  { activity: 'recordOrderRefund', refund: true },
  { activity: 'persistNotification', refund: true },
  { activity: 'notifyUser', refund: true },
];

/**
 * Every boundary: before and after each activity of the checkout's two paths and of the refund
 * saga, inside the charge once Stripe has charged, and inside the refund once Stripe has refunded.
 */
export const ALL_BOUNDARIES: readonly Boundary[] = [
  ...[...PAID_PATH, ...CANCEL_PATH, ...REFUND_PATH].flatMap((call) => [
    { ...call, phase: 'start' as const },
    { ...call, phase: 'end' as const },
  ]),
  { activity: 'chargePayment', phase: 'atStripe' },
  { activity: 'refundAtStripe', refund: true, phase: 'atStripe' },
];

/** Whether a boundary lies in the refund saga: its saga first completes its order, then asks for a refund. */
export const isRefundBoundary = (boundary: ActivityCall): boolean => boundary.refund === true;

/** Whether a boundary is reached only by a cancelled order. */
export const isCancelBoundary = (boundary: ActivityCall): boolean =>
  !isRefundBoundary(boundary) &&
  CANCEL_PATH.some((call) => call.activity === boundary.activity && call.status === boundary.status) &&
  !PAID_PATH.some((call) => call.activity === boundary.activity && call.status === boundary.status);

/** Whether a saga reaches the boundary before its order awaits payment (the first steps of the paid path). */
export const isBeforePayment = (boundary: Boundary): boolean => {
  if (boundary.phase === 'atStripe' || isCancelBoundary(boundary) || isRefundBoundary(boundary)) return false;
  const index = PAID_PATH.findIndex((call) => call.activity === boundary.activity && call.status === boundary.status);
  return index >= 0 && index < PAID_PATH.findIndex((call) => call.activity === 'chargePayment');
};

/**
 * How many activities a saga runs, from what sets it going (its start, the payment, the cancel or
 * the refund request), before it reaches the boundary's activity.
 */
export function depthOf(boundary: Boundary): number {
  const same = (call: ActivityCall) => call.activity === boundary.activity && call.status === boundary.status;
  if (isRefundBoundary(boundary)) return REFUND_PATH.findIndex((call) => call.activity === boundary.activity);
  if (isCancelBoundary(boundary)) return CANCEL_PATH.findIndex(same);
  const index =
    boundary.phase === 'atStripe'
      ? PAID_PATH.findIndex((c) => c.activity === 'chargePayment')
      : PAID_PATH.findIndex(same);
  return isBeforePayment(boundary) ? index : index - PAID_PATH.findIndex((c) => c.activity === 'chargePayment');
}

/** Boundaries at most this deep are killed in a wave's first stage, the others in its second. */
export const SHALLOW = 3;

export function describeBoundary(boundary: Boundary): string {
  const stripeActed = boundary.activity === 'refundAtStripe' ? 'Stripe refunded' : 'Stripe charged';
  const when = boundary.phase === 'start' ? 'before' : boundary.phase === 'end' ? 'after' : `inside, ${stripeActed},`;
  return `${isRefundBoundary(boundary) ? 'refund: ' : ''}${when} ${boundary.activity}${boundary.status ? `(${boundary.status})` : ''}`;
}

/** How the probe tells the driver (on stdout) that an activity is held at an armed boundary. */
export const PAUSED_PREFIX = 'CHAOS-PAUSED ';

export interface PausedReport {
  id: string;
  attempt: number;
  pid: number;
}

/** What the probe knows of a running activity. */
export interface ActivityFacts {
  activityType: string;
  workflowId: string;
  input: unknown;
}

/** The order (or refund) an activity call works for, and the status it is about (when the boundary needs one). */
export function callOf(facts: ActivityFacts): {
  orderId?: string;
  customerId?: string;
  status?: string;
  refundId?: string;
} {
  const input = (facts.input ?? {}) as Record<string, unknown>;
  const payload = (input.payload ?? {}) as Record<string, unknown>;
  switch (facts.activityType) {
    case 'refundAtStripe':
    case 'findRefund':
      return { refundId: str(input.refundId) };
    case 'setOrderStatus':
      return { orderId: str(input.orderId), status: str(input.status) };
    case 'notifyUser':
    case 'persistNotification': {
      // Order status notifications carry the order in their payload and dedupe key `order:<id>:<status>`.
      const orderId = str(payload.orderId);
      return {
        orderId,
        customerId: str(input.userId),
        status: input.type === 'order.status' ? str(payload.status) : undefined,
      };
    }
    default:
      return { orderId: str(input.orderId), customerId: str(input.userId) };
  }
}

export function matches(armed: ArmedBoundary, phase: BoundaryPhase, facts: ActivityFacts): boolean {
  if (armed.phase !== phase || armed.activity !== facts.activityType) return false;
  const call = callOf(facts);
  // A refund's calls that name only the refund are told apart by it; the others by their order.
  if (call.orderId === undefined && call.refundId !== undefined) return call.refundId === armed.refundId;
  if (call.orderId !== armed.orderId) return false;
  return armed.status === undefined || armed.status === call.status;
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}
