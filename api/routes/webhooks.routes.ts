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
import { errors } from '../schemas';

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

const Ack = Type.Object({ received: Type.Literal(true), duplicate: Type.Boolean(), relayed: Type.Boolean() });

export const webhookRoutes: FastifyPluginAsyncTypebox<WebhookRoutesOptions> = async (app, options) => {
  // Only in this plugin's scope: the signature is over the exact bytes Stripe sent (the app's strict UTF-8 JSON parser makes way).
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'buffer', bodyLimit: 256 * 1024 }, (_request, body, done) =>
    done(null, body),
  );

  app.post(
    '/v1/webhooks/stripe',
    {
      schema: {
        operationId: 'receiveStripeWebhook',
        summary: "Stripe's webhook",
        tags: ['webhooks'],
        description: 'Stripe webhook endpoint (signed with STRIPE_WEBHOOK_SECRET)',
        response: { 200: Ack, ...errors(400, 503) },
      },
    },
    async (request) => {
      const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.from('');
      const signature = request.headers['stripe-signature'];
      const event = verifyStripeEvent(raw, Array.isArray(signature) ? signature[0] : signature, options.webhookSecret);
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
