/**
 * Refunds after the sale (admin): POST /v1/orders/:id/refunds starts or joins the order's refund
 * saga for the request's Idempotency-Key and answers with the refund once its money is settled.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { DomainError } from '../../lib/errors';
import type { RefundView } from '../../services/payments/refunds.service';
import type { Services } from '../../services';
import { requestRefund, type RefundClient } from '../../temporal/refund-client';
import { errors, IdParams, Quantity, Refund, Text, Uuid } from '../schemas';

export interface RefundRoutesOptions {
  services: Pick<Services, 'orders' | 'refunds'>;
  refunds: RefundClient;
}

export const RefundLine = Type.Object({ productId: Uuid, quantity: Quantity }, { additionalProperties: false });

const RefundBody = Type.Object(
  {
    lines: Type.Optional(Type.Array(RefundLine, { minItems: 1, maxItems: 50 })),
    amountCents: Type.Optional(Type.Integer({ minimum: 1, maximum: 99_999_999 })),
    reason: Text({ minLength: 1, maxLength: 500 }),
    restock: Type.Optional(Type.Boolean({ default: false })),
  },
  { additionalProperties: false },
);
const RefundHeaders = Type.Object({
  'idempotency-key': Type.String({ minLength: 1, maxLength: 255, pattern: '^[\\x21-\\x7e]+$' }),
});

export function toRefundResponse(refund: RefundView) {
  return {
    id: refund.id,
    orderId: refund.orderId,
    status: refund.status,
    amountCents: refund.amountCents,
    currency: refund.currency,
    lines: refund.lines,
    restock: refund.restock,
    reason: refund.reason,
    failure: refund.failure,
    createdAt: refund.createdAt.toISOString(),
  };
}

export const refundRoutes: FastifyPluginAsyncTypebox<RefundRoutesOptions> = async (app, options) => {
  const { services, refunds } = options;

  app.post(
    '/v1/orders/:id/refunds',
    {
      preHandler: app.requireAdmin,
      schema: {
        operationId: 'refundOrder',
        summary: 'Refund a sold order (admin)',
        tags: ['orders'],
        description:
          '`lines` refunds those units at their order-line price, `amountCents` an amount and no units, neither everything left; ' +
          '`restock` puts the refunded units back on sale. Answers once Stripe has (status SUCCEEDED, FAILED, or PENDING while Stripe processes it). ' +
          'The same Idempotency-Key answers the same refund.',
        headers: RefundHeaders,
        params: IdParams,
        body: RefundBody,
        response: { 201: Refund, ...errors(400, 401, 403, 404, 409, 422, 503) },
      },
    },
    async (request, reply) => {
      const { lines, amountCents, reason, restock } = request.body;
      const idempotencyKey = request.headers['idempotency-key'];
      // Required by the schema too; checked here as well so that no refund ever runs without one.
      if (!idempotencyKey) throw new DomainError('VALIDATION_FAILED', 'A refund needs an Idempotency-Key header');
      const outcome = await requestRefund(
        { orders: services.orders, refunds: services.refunds, client: refunds },
        {
          orderId: request.params.id,
          idempotencyKey,
          lines,
          amountCents,
          reason,
          restock: restock ?? false,
          requestedBy: request.user.sub,
        },
      );
      if (outcome.replayed) reply.header('idempotent-replayed', 'true');
      return reply.code(201).send(toRefundResponse(outcome.refund));
    },
  );
};
