/**
 * POST /v1/webhooks/stripe: verifies the signature over the raw body, stores each event
 * once, and relays payment events to the order's workflow. Stripe delivers at least once:
 * an event already relayed is acknowledged and changes nothing; one stored but not yet
 * relayed (Temporal was down) is relayed on the retry, and the workflow keeps it once.
 * Refund events (charge.refunded, refund.updated, refund.failed) settle the after-sale refund
 * they name and wake its saga.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { CheckoutClient } from '../../temporal/checkout-client';
import type { PaymentsService } from '../../services/payments/payments.service';
import type { RefundsService } from '../../services/payments/refunds.service';
import type { RefundClient } from '../../temporal/refund-client';
import { orderIdOf, verifyStripeEvent } from '../../services/payments/webhooks';
import { strictJsonParser } from '../plugins/utf8-json';
import { DomainError } from '../../lib/errors';
import { errors, Text, unstorableTextAt } from '../schemas';

export interface WebhookRoutesOptions {
  payments: PaymentsService;
  /** Refunds after the sale: the service that records them and the client of their sagas. */
  refunds: { service: RefundsService; client: RefundClient };
  checkout: CheckoutClient;
  webhookSecret: string;
}

/** The events that tell an order's workflow something; others are stored and acknowledged. */
const RELAYED_TYPES = new Set(['payment_intent.succeeded', 'payment_intent.payment_failed']);

/** Stripe's news of refunds: each names refunds the store may know (by Stripe's id or the refund id in their metadata). */
const REFUND_TYPES = new Set(['charge.refunded', 'refund.updated', 'refund.failed']);

interface StripeRefundNews {
  id: string;
  status: string | null;
  failure_reason?: string | null;
  metadata?: Record<string, string> | null;
}

/** The refunds an event is about: the refund itself, or a charge's refunds. */
function refundsOf(event: { type: string; data: { object: unknown } }): StripeRefundNews[] {
  const object = event.data.object as StripeRefundNews & { refunds?: { data?: StripeRefundNews[] } };
  if (event.type === 'charge.refunded') return object.refunds?.data ?? [];
  return typeof object.id === 'string' ? [object] : [];
}

/**
 * The envelope of every Stripe event, as Stripe documents its Event object: what this route reads
 * (id, type, data.object) is required. Open on purpose, unlike every other request body: Stripe
 * adds fields with its API versions, and a refused event would be retried for days; what vouches
 * for the rest is the signature, and the handler still refuses text PostgreSQL cannot store.
 */
const StripeEvent = Type.Object(
  {
    id: Text({ minLength: 1, maxLength: 255, description: "Stripe's event id (evt_...): each is stored once" }),
    object: Type.Optional(Type.Literal('event')),
    type: Text({
      minLength: 1,
      maxLength: 255,
      description:
        'payment_intent.succeeded and payment_intent.payment_failed reach the order; charge.refunded, refund.updated and refund.failed settle a refund; others are stored and acknowledged',
    }),
    created: Type.Optional(Type.Integer({ description: 'When Stripe created the event (Unix seconds)' })),
    livemode: Type.Optional(Type.Boolean()),
    data: Type.Object(
      {
        object: Type.Object(
          {},
          {
            additionalProperties: true,
            description:
              'The object the event is about (a PaymentIntent, a Charge with its refunds, a Refund); a PaymentIntent names its order in metadata.orderId',
          },
        ),
      },
      { additionalProperties: true },
    ),
  },
  {
    additionalProperties: true,
    description: 'A Stripe event, as Stripe sends it: the signature in Stripe-Signature is over these exact bytes',
  },
);

const SignatureHeaders = Type.Object({
  'stripe-signature': Type.Optional(
    Text({
      description: "Stripe's signature of the raw body with STRIPE_WEBHOOK_SECRET (t=...,v1=...); without it, 400",
    }),
  ),
});

const Ack = Type.Object({ received: Type.Literal(true), duplicate: Type.Boolean(), relayed: Type.Boolean() });

export const webhookRoutes: FastifyPluginAsyncTypebox<WebhookRoutesOptions> = async (app, options) => {
  // Only in this plugin's scope: the body is parsed as everywhere (for its schema), and the bytes
  // Stripe signed are kept beside it, since the signature is over those exact bytes.
  const signed = new WeakMap<object, Buffer>();
  const parse = strictJsonParser(app);
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: 256 * 1024 }, (request, body, done) => {
    signed.set(request, body as Buffer);
    parse(request, body as Buffer, done);
  });

  app.post(
    '/v1/webhooks/stripe',
    {
      schema: {
        operationId: 'receiveStripeWebhook',
        summary: "Stripe's webhook",
        tags: ['webhooks'],
        description:
          'Stripe webhook endpoint: the event is taken only when its Stripe-Signature (STRIPE_WEBHOOK_SECRET) matches the raw body; otherwise 400 INVALID_SIGNATURE and nothing changes',
        headers: SignatureHeaders,
        body: StripeEvent,
        response: { 200: Ack, ...errors(400, 503) },
      },
    },
    async (request) => {
      const raw = signed.get(request) ?? Buffer.from('');
      const signature = request.headers['stripe-signature'];
      const event = verifyStripeEvent(raw, Array.isArray(signature) ? signature[0] : signature, options.webhookSecret);
      // Signed, yet stored whole: a NUL would fail the insert on every retry Stripe makes.
      const unstorable = unstorableTextAt(event);
      if (unstorable !== undefined)
        throw new DomainError(
          'UNSTORABLE_TEXT',
          `The event carries text PostgreSQL cannot store at body.${unstorable}`,
        );
      const orderId = orderIdOf(event);
      const stored = await options.payments.recordWebhookEvent({
        id: event.id,
        type: event.type,
        orderId,
        payload: event,
      });
      if (!stored && (await options.payments.isWebhookEventProcessed(event.id)))
        return { received: true as const, duplicate: true, relayed: false };

      let relayed = false;
      if (REFUND_TYPES.has(event.type)) {
        for (const news of refundsOf(event)) {
          const refund = await options.refunds.service.settleByStripeId(
            news.id,
            event.type === 'refund.failed' ? 'failed' : news.status,
            news.failure_reason ?? undefined,
            news.metadata?.refundId,
          );
          if (refund)
            relayed =
              (await options.refunds.client.relayStripeEvent(refund.id, { eventId: event.id, type: event.type })) ||
              relayed;
        }
      }
      if (orderId && RELAYED_TYPES.has(event.type)) {
        const paymentIntentId = (event.data.object as { id?: string }).id ?? '';
        relayed = await options.checkout.relayPaymentEvent(orderId, {
          eventId: event.id,
          type: event.type,
          paymentIntentId,
        });
      }
      await options.payments.markWebhookEventProcessed(event.id);
      request.log.info({ eventId: event.id, type: event.type, orderId, relayed }, 'stripe event received');
      return { received: true as const, duplicate: !stored, relayed };
    },
  );
};
