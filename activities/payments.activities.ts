/** Payments activities: charge the order through Stripe (and settle a processing charge), and its pair refund-or-cancel. */
import type {
  ChargeInput,
  ChargeResult,
  PaymentsService,
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
    async refundPayment(input: RefundPaymentInput): Promise<RefundOrCancelResult> {
      return payments.refundOrCancel(input.orderId, input.reason);
    },
  });
}

export type PaymentsActivities = ReturnType<typeof createPaymentsActivities>;
