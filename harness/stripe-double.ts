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

export interface StripeDouble {
  /** Give this as `intercept` to startStripeRecorder. */
  intercept: (request: RecordedRequest, index: number) => Interception | undefined;
  intents: Map<string, DoubleIntent>;
  /** Called before each request is answered: a test changes an intent's status here ("Stripe settled it meanwhile"). */
  onRequest?: (request: RecordedRequest) => void;
}

/**
 * A stand-in for Stripe itself, with state: PaymentIntents that remember their status, confirmations
 * answered as `confirm` says (succeeded, processing, requires_action, a decline, or a lost answer
 * after Stripe took the money), cancel refused with `payment_intent_unexpected_state` for an intent
 * that succeeded or is processing, refunds only of a succeeded intent, and idempotency keys replayed
 * as Stripe replays them. stripe-mock is stateless and answers none of this.
 */
export function stripeDouble(
  confirm: (
    intent: DoubleIntent,
    attempt: number,
  ) => DoubleIntent['status'] | { status: number; body: unknown } | 'succeeded-but-lost' = () => 'succeeded',
): StripeDouble {
  const intents = new Map<string, DoubleIntent>();
  const replies = new Map<string, Interception>();
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
          replies.set(`${request.path} ${request.idempotencyKey}`, answer(200, { ...intent }));
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
    if (resource === 'refunds') {
      const refunded = intents.get(form.get('payment_intent') ?? '');
      if (refunded?.status !== 'succeeded')
        return answer(400, {
          error: { type: 'invalid_request_error', code: 'charge_not_refundable', message: 'Nothing to refund' },
        });
      return answer(200, {
        id: `re_double_${refunded.id}`,
        object: 'refund',
        status: 'succeeded',
        payment_intent: refunded.id,
        amount: refunded.amount,
      });
    }
    return answer(404, {
      error: { type: 'invalid_request_error', message: `The double does not know ${request.method} ${request.path}` },
    });
  }

  const double: StripeDouble = {
    intents,
    intercept(request) {
      double.onRequest?.(request);
      // Stripe answers a repeated idempotency key with its first answer (a lost one is not stored).
      const key = request.idempotencyKey && `${request.path} ${request.idempotencyKey}`;
      const replay = key ? replies.get(key) : undefined;
      if (replay) return replay;
      const reply = handle(request);
      if (key && reply !== 'reset') replies.set(key, reply);
      return reply;
    },
  };
  return double;
}
