/**
 * A stand-in for Stripe with state, behind the recording proxy (give its `intercept` to
 * startStripeProxy): the answers stripe-mock, being stateless, never gives.
 */
import { randomUUID } from 'node:crypto';
import type { Interception, RecordedRequest } from './stripe-proxy';

/** What a PaymentIntent held by the Stripe double looks like (the fields the payments service reads). */
export interface DoubleIntent {
  id: string;
  object: 'payment_intent';
  status: 'requires_payment_method' | 'requires_action' | 'processing' | 'succeeded' | 'canceled';
  amount: number;
  currency: string;
  metadata: Record<string, string>;
}

/** A refund the Stripe double holds. */
export interface DoubleRefund {
  id: string;
  object: 'refund';
  status: 'pending' | 'succeeded' | 'failed';
  payment_intent: string;
  amount: number;
  currency: string;
  metadata: Record<string, string>;
  failure_reason?: string;
}

/** How the double answers a refund it would make: as Stripe would, or its answer lost after it made it. */
export type RefundOutcome = DoubleRefund['status'] | 'succeeded-but-lost';

export interface StripeDouble {
  /** Give this as `intercept` to startStripeRecorder. */
  intercept: (request: RecordedRequest, index: number) => Interception | undefined;
  intents: Map<string, DoubleIntent>;
  /** Every refund made, oldest first. */
  refunds: DoubleRefund[];
  /** How the next refunds are answered (default: succeeded). */
  refundOutcome?: (refund: DoubleRefund, index: number) => RefundOutcome;
  /** Requests still to be answered 429 (rate_limit_error) before any other answer, as Stripe throttles. */
  rateLimited: number;
  /** Called before each request is answered: a test changes an intent's status here ("Stripe settled it meanwhile"). */
  onRequest?: (request: RecordedRequest) => void;
}

/**
 * A stand-in for Stripe itself, with state: PaymentIntents that remember their status, confirmations
 * answered as `confirm` says (succeeded, processing, requires_action, a decline, or a lost answer
 * after Stripe took the money), cancel refused with `payment_intent_unexpected_state` for an intent
 * that succeeded or is processing, refunds only of a succeeded intent and never more than it has
 * left (`charge_already_refunded`, `amount_too_large`), refunds listed (every refund: the proxy drops
 * the query string, so callers filter by metadata), 429 rate limits on demand, and idempotency keys
 * replayed as Stripe replays them, a key sent again with another body refused (`idempotency_error`).
 * stripe-mock is stateless and answers none of this.
 */
export function stripeDouble(
  confirm: (
    intent: DoubleIntent,
    attempt: number,
  ) => DoubleIntent['status'] | { status: number; body: unknown } | 'succeeded-but-lost' = () => 'succeeded',
): StripeDouble {
  const intents = new Map<string, DoubleIntent>();
  const refunds: DoubleRefund[] = [];
  const replies = new Map<string, { body: string; reply: Interception }>();
  let confirms = 0;
  const answer = (status: number, body: unknown): Interception => ({ status, body });
  const unexpectedState = (intent: DoubleIntent) =>
    answer(400, {
      error: {
        type: 'invalid_request_error',
        code: 'payment_intent_unexpected_state',
        message: `This PaymentIntent's status is ${intent.status}.`,
      },
    });

  function handle(request: RecordedRequest): Interception | 'reset' {
    const form = new URLSearchParams(request.body);
    const [, , resource, id, action] = request.path.split('/');
    const intent = id ? intents.get(id) : undefined;
    if (resource === 'payment_intents' && request.method === 'POST' && !id) {
      const metadata: Record<string, string> = {};
      for (const [key, value] of form) if (key.startsWith('metadata[')) metadata[key.slice(9, -1)] = value;
      const created: DoubleIntent = {
        id: `pi_double${randomUUID().replace(/-/g, '').slice(0, 16)}`,
        object: 'payment_intent',
        status: 'requires_payment_method',
        amount: Number(form.get('amount')),
        currency: form.get('currency') ?? 'usd',
        metadata,
      };
      intents.set(created.id, created);
      return answer(200, created);
    }
    if (resource === 'payment_intents' && !intent)
      return answer(404, {
        error: { type: 'invalid_request_error', code: 'resource_missing', message: `No such payment_intent: '${id}'` },
      });
    if (resource === 'payment_intents' && request.method === 'GET') return answer(200, intent);
    if (resource === 'payment_intents' && action === 'confirm') {
      if (intent!.status === 'succeeded' || intent!.status === 'canceled') return unexpectedState(intent!);
      const outcome = confirm(intent!, ++confirms);
      if (outcome === 'succeeded-but-lost') {
        intent!.status = 'succeeded';
        // Stripe keeps the answer under the idempotency key: a retry with the key gets it.
        if (request.idempotencyKey)
          replies.set(`${request.path} ${request.idempotencyKey}`, {
            body: request.body,
            reply: answer(200, { ...intent }),
          });
        return 'reset';
      }
      if (typeof outcome !== 'string') return outcome;
      intent!.status = outcome;
      return answer(200, intent);
    }
    if (resource === 'payment_intents' && action === 'cancel') {
      if (intent!.status === 'succeeded' || intent!.status === 'processing' || intent!.status === 'canceled')
        return unexpectedState(intent!);
      intent!.status = 'canceled';
      return answer(200, intent);
    }
    if (resource === 'refunds' && request.method === 'GET')
      return answer(200, { object: 'list', url: '/v1/refunds', has_more: false, data: [...refunds].reverse() });
    if (resource === 'refunds') {
      const refunded = intents.get(form.get('payment_intent') ?? '');
      if (refunded?.status !== 'succeeded')
        return answer(400, {
          error: { type: 'invalid_request_error', code: 'charge_not_refundable', message: 'Nothing to refund' },
        });
      const left =
        refunded.amount -
        refunds
          .filter((r) => r.payment_intent === refunded.id && r.status !== 'failed')
          .reduce((sum, r) => sum + r.amount, 0);
      const amount = form.has('amount') ? Number(form.get('amount')) : left;
      if (left <= 0)
        return answer(400, {
          error: {
            type: 'invalid_request_error',
            code: 'charge_already_refunded',
            message: `Charge for ${refunded.id} has already been refunded.`,
          },
        });
      if (amount > left)
        return answer(400, {
          error: {
            type: 'invalid_request_error',
            code: 'amount_too_large',
            param: 'amount',
            message: `Refund amount (${amount}) is greater than unrefunded amount on charge (${left})`,
          },
        });
      const metadata: Record<string, string> = {};
      for (const [key, value] of form) if (key.startsWith('metadata[')) metadata[key.slice(9, -1)] = value;
      const refund: DoubleRefund = {
        id: `re_double${randomUUID().replace(/-/g, '').slice(0, 16)}`,
        object: 'refund',
        status: 'succeeded',
        payment_intent: refunded.id,
        amount,
        currency: refunded.currency,
        metadata,
      };
      const outcome = double.refundOutcome?.(refund, refunds.length) ?? 'succeeded';
      refund.status = outcome === 'succeeded-but-lost' ? 'succeeded' : outcome;
      if (refund.status === 'failed') refund.failure_reason = 'expired_or_canceled_card';
      refunds.push(refund);
      if (outcome === 'succeeded-but-lost') {
        if (request.idempotencyKey)
          replies.set(`${request.path} ${request.idempotencyKey}`, {
            body: request.body,
            reply: answer(200, { ...refund }),
          });
        return 'reset';
      }
      return answer(200, refund);
    }
    return answer(404, {
      error: { type: 'invalid_request_error', message: `The double does not know ${request.method} ${request.path}` },
    });
  }

  const double: StripeDouble = {
    intents,
    refunds,
    rateLimited: 0,
    intercept(request) {
      double.onRequest?.(request);
      if (double.rateLimited > 0) {
        double.rateLimited -= 1;
        return answer(429, {
          error: {
            type: 'rate_limit_error',
            code: 'rate_limit',
            message: 'Too many requests hit the API too quickly.',
          },
        });
      }
      // Stripe answers a repeated idempotency key with its first answer (a lost one is not stored),
      // and refuses the key sent again with other parameters.
      const key = request.idempotencyKey && `${request.path} ${request.idempotencyKey}`;
      const replay = key ? replies.get(key) : undefined;
      if (replay && replay.body !== request.body)
        return answer(400, {
          error: {
            type: 'idempotency_error',
            message: `Keys for idempotent requests can only be used with the same parameters they were first used with.`,
          },
        });
      if (replay) return replay.reply;
      const reply = handle(request);
      if (key && reply !== 'reset') replies.set(key, { body: request.body, reply });
      return reply;
    },
  };
  return double;
}
