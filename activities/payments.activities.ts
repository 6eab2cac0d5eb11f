/** Payments activities: charge the order through Stripe (and settle a processing charge), and its pair refund-or-cancel. */
import type {
  ChargeInput,
  ChargeResult,
  PaymentsService,
  PaymentView,
  RefundOrCancelResult,
  SettleProcessingInput,
} from '../services/payments/payments.service';
import { withBusinessFailures } from '../lib/business-failures';

export type {
  ChargeInput,
  ChargeResult,
  RefundOrCancelResult,
  SettleProcessingInput,
} from '../services/payments/payments.service';

export interface RefundPaymentInput {
  orderId: string;
  reason?: string;
}

/** An order's payment as recorded, for a run that adopts the order: what was taken, and how many attempts were refused. */
export interface RecordedPayment {
  status: 'NONE' | PaymentView['status'];
  /** Attempts Stripe refused: the next attempt is numbered after them, so its idempotency key is new. */
  declinedAttempts: number;
}

export function createPaymentsActivities(deps: { payments: PaymentsService }) {
  const { payments } = deps;
  return withBusinessFailures({
    async chargePayment(input: ChargeInput): Promise<ChargeResult> {
      return payments.charge(input);
    },
    /** What Stripe's webhook said of a processing payment, recorded on the payment. */
    async settleProcessingPayment(input: SettleProcessingInput): Promise<void> {
      return payments.settleProcessing(input);
    },
    async findPayment(input: { orderId: string }): Promise<RecordedPayment> {
      const payment = await payments.get(input.orderId);
      return {
        status: payment?.status ?? 'NONE',
        declinedAttempts: payment?.attempts.filter((attempt) => attempt.outcome === 'DECLINED').length ?? 0,
      };
    },
    async refundPayment(input: RefundPaymentInput): Promise<RefundOrCancelResult> {
      return payments.refundOrCancel(input.orderId, input.reason);
    },
  });
}

export type PaymentsActivities = ReturnType<typeof createPaymentsActivities>;
