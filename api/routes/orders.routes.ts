/** Orders: place (answers with the reservation's outcome), read, pay and cancel — each scoped to its customer. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { CheckoutClient } from '../../temporal/checkout-client';
import { customerFailure } from '../customer-messages';
import { DomainError } from '../../lib/errors';
import type { Services } from '../../services';
import type { OrderView } from '../../services/orders/orders.service';
import type { PaymentView } from '../../services/payments/payments.service';
import { orderWorkflowId, type CheckoutState } from '../../workflows/contract';
import { placeOrder } from '../order-placement';
import {
  MAX_PAYMENT_METHOD_ID_LENGTH,
  PAYMENT_METHOD_ID_PATTERN,
  PAYMENT_METHOD_RULE,
} from '../../lib/payment-methods';
import type { RefundsService, RefundView } from '../../services/payments/refunds.service';
import { toRefundResponse } from './refunds.routes';
import { orderTimeline } from '../order-timeline';
import { PageOf, PageQueryFields } from '../paging';
import { errors, IdParams, Order, OrderStatus, Quantity, Text, UserId, Uuid } from '../schemas';

export interface OrderRoutesOptions {
  services: Pick<Services, 'orders' | 'payments' | 'inventory' | 'cart' | 'quota' | 'accounts'>;
  checkout: CheckoutClient;
  orderTtlSeconds: number;
  /** Refunds after the sale, listed on one order's page; none listed without it. */
  refunds?: Pick<RefundsService, 'listForOrder'>;
  /** Order placements per minute per user. */
  ratePerMinute: number;
}

const PlaceOrderBody = Type.Union([
  Type.Object(
    {
      items: Type.Array(Type.Object({ productId: Uuid, quantity: Quantity }, { additionalProperties: false }), {
        minItems: 1,
        maxItems: 50,
      }),
    },
    { additionalProperties: false },
  ),
  Type.Null(),
]);
const PlaceOrderHeaders = Type.Object({
  'idempotency-key': Type.Optional(Type.String({ minLength: 1, maxLength: 255, pattern: '^[\\x21-\\x7e]+$' })),
});
const PayBody = Type.Object(
  {
    paymentMethod: Type.String({
      pattern: PAYMENT_METHOD_ID_PATTERN,
      maxLength: MAX_PAYMENT_METHOD_ID_LENGTH,
      description: `${PAYMENT_METHOD_RULE} (such as \`pm_card_visa\`); anything else is 400 VALIDATION_FAILED before anything is stored`,
    }),
  },
  { additionalProperties: false },
);
const CancelBody = Type.Union([
  Type.Object({ reason: Type.Optional(Text({ maxLength: 500 })) }, { additionalProperties: false }),
  Type.Null(),
]);
const OrderListQuery = Type.Object(
  {
    ...PageQueryFields,
    status: Type.Optional(OrderStatus),
    scope: Type.Optional(
      Type.Union([Type.Literal('mine'), Type.Literal('all')], {
        description: "mine (default): the user's own orders; all: every customer's (admin)",
      }),
    ),
    /** With scope=all: only this customer's orders. */
    customerId: Type.Optional(UserId),
    customerEmail: Type.Optional(
      Text({
        minLength: 1,
        maxLength: 254,
        description:
          'With scope=all: only the orders of the account with this email (any case); none for an unknown one',
      }),
    ),
  },
  { additionalProperties: false },
);

export const orderRoutes: FastifyPluginAsyncTypebox<OrderRoutesOptions> = async (app, options) => {
  const { services, checkout } = options;

  /** One order as the API shows it, with its payment and, when asked, the steps its workflow has completed. */
  async function present(order: OrderView, withSteps = false) {
    const [payment, state, refunds] = await Promise.all([
      services.payments.get(order.id),
      withSteps ? checkout.state(order.id).catch(() => undefined) : Promise.resolve(undefined),
      withSteps ? options.refunds?.listForOrder(order.id) : Promise.resolve(undefined),
    ]);
    return toOrderResponse(order, payment, state?.completedSteps, refunds);
  }

  /**
   * The order as a pay or cancel update left it: the workflow's answer says its status, failure and
   * steps; the order row read before it the rest, and the payments service what only it knows.
   */
  async function presentSettled(order: OrderView, state: CheckoutState) {
    const settled: OrderView = {
      ...order,
      status: state.status,
      ...(state.failure ? { failureCode: state.failure.code, failureReason: state.failure.message } : {}),
    };
    return toOrderResponse(settled, await services.payments.get(order.id), state.completedSteps);
  }

  /** The customer's own order; anyone else's does not exist (404, never 403). */
  async function ownOrder(customerId: string, orderId: string): Promise<OrderView> {
    const order = await services.orders.getForCustomer(customerId, orderId);
    if (!order) throw new DomainError('ORDER_NOT_FOUND', `No order ${orderId}`);
    return order;
  }

  /** An order to read: an admin reads any customer's (the orders they refund), a customer only their own. */
  async function readableOrder(user: { sub: string; role?: string }, orderId: string): Promise<OrderView> {
    if (user.role !== 'admin') return ownOrder(user.sub, orderId);
    const order = await services.orders.get(orderId);
    if (!order) throw new DomainError('ORDER_NOT_FOUND', `No order ${orderId}`);
    return order;
  }

  app.post(
    '/v1/orders',
    {
      preHandler: app.authenticate,
      // Per user, not per address: many customers can share one address (an office, a proxy).
      // The limit runs before authentication, so it reads the verified token's subject itself.
      config: {
        rateLimit: {
          max: options.ratePerMinute,
          timeWindow: '1 minute',
          keyGenerator: (request) => app.userIdOf(request) ?? request.ip,
        },
      },
      schema: {
        operationId: 'placeOrder',
        summary: 'Place an order',
        tags: ['orders'],
        description:
          'Places an order from `items` or, without a body, from the cart. Answers once the stock is reserved (or refused). ' +
          "409 HOLD_LIMIT_REACHED when it would take the customer over their plan's holding limits (unpaid orders at once, units of one product held unpaid, a share of its stock), before anything is reserved. " +
          '403 EMAIL_NOT_VERIFIED for an account whose address is not verified yet (the link mailed at sign-up), before anything is recorded.',
        headers: PlaceOrderHeaders,
        body: Type.Optional(PlaceOrderBody),
        response: { 201: Order, ...errors(400, 401, 403, 409, 422, 429, 503) },
      },
    },
    async (request, reply) => {
      // An account orders once its address is proven (docs/accounts.md); a dev-token user has no account.
      if (request.user.sid && !(await services.accounts.isEmailVerified(request.user.sub)))
        throw new DomainError(
          'EMAIL_NOT_VERIFIED',
          'Confirm your email address first: follow the link in the mail we sent',
        );
      try {
        const placement = await placeOrder(
          {
            checkout,
            orders: services.orders,
            inventory: services.inventory,
            cart: services.cart,
            quota: services.quota,
            orderTtlSeconds: options.orderTtlSeconds,
          },
          {
            customerId: request.user.sub,
            items: request.body?.items,
            idempotencyKey: request.headers['idempotency-key'],
          },
        );
        app.metrics.orderPlacements.inc({ outcome: placement.order.status });
        if (placement.replayed) reply.header('idempotent-replayed', 'true');
        return reply.code(201).send(await present(placement.order));
      } catch (error) {
        if (error instanceof DomainError) {
          app.metrics.orderPlacements.inc({ outcome: error.code });
          if (error.code === 'QUOTA_EXCEEDED') app.metrics.quotaRejections.inc({ resource: 'orders' });
        }
        throw error;
      }
    },
  );

  app.get(
    '/v1/orders',
    {
      preHandler: app.authenticate,
      schema: {
        operationId: 'listOrders',
        summary: "List the user's orders",
        description:
          'A page of orders, newest first, each with its status, lines, total and payment; `status` filters, ' +
          "`nextCursor` leads to the next page. `scope=all` lists every customer's orders (or one's, with `customerId` or `customerEmail`): admins only.",
        tags: ['orders'],
        querystring: OrderListQuery,
        response: { 200: PageOf(Order), ...errors(400, 401, 403) },
      },
    },
    async (request) => {
      const { scope, customerId, customerEmail, status, limit, cursor } = request.query;
      const everyone = scope === 'all';
      const byCustomer = customerId !== undefined || customerEmail !== undefined;
      if ((everyone || byCustomer) && request.user.role !== 'admin')
        throw new DomainError('FORBIDDEN', "Only admins list other customers' orders");
      if (byCustomer && !everyone)
        throw new DomainError('VALIDATION_FAILED', 'customerId and customerEmail go with scope=all');
      if (customerId !== undefined && customerEmail !== undefined)
        throw new DomainError('VALIDATION_FAILED', 'Search by customerId or by customerEmail, not both');
      let customer = everyone ? customerId : request.user.sub;
      if (customerEmail !== undefined) {
        const account = await services.accounts.findByEmail(customerEmail);
        if (!account) return { items: [], nextCursor: null };
        customer = account.id;
      }
      const page = await services.orders.listPage({
        customerId: customer,
        status,
        limit,
        cursor,
      });
      // One query for all their payments, not one per order: the dashboard reloads this list on every status event.
      const payments = await services.payments.getForOrders(page.items.map((order) => order.id));
      return {
        items: page.items.map((order) => toOrderResponse(order, payments.get(order.id) ?? null)),
        nextCursor: page.nextCursor,
      };
    },
  );

  app.get(
    '/v1/orders/:id',
    {
      preHandler: app.authenticate,
      schema: {
        operationId: 'getOrder',
        summary: 'Read one order',
        description:
          "Status, lines, total, expiry, payment, failure reason, the saga's steps, refunds and the timeline (each status with its time, each refund). " +
          "Another user's order is 404; admins read any customer's.",
        tags: ['orders'],
        params: IdParams,
        response: { 200: Order, ...errors(400, 401, 404) },
      },
    },
    async (request) => present(await readableOrder(request.user, request.params.id), true),
  );

  app.post(
    '/v1/orders/:id/payment',
    {
      preHandler: app.authenticate,
      schema: {
        operationId: 'payOrder',
        summary: 'Pay an order',
        tags: ['orders'],
        description: 'Charges the order. 402 PAYMENT_DECLINED leaves it payable until it expires.',
        params: IdParams,
        body: PayBody,
        response: { 200: Order, ...errors(400, 401, 402, 404, 409, 503) },
      },
    },
    async (request) => {
      const order = await ownOrder(request.user.sub, request.params.id);
      return presentSettled(order, await checkout.pay(order.id, request.user.sub, request.body.paymentMethod));
    },
  );

  app.post(
    '/v1/orders/:id/cancel',
    {
      preHandler: app.authenticate,
      schema: {
        operationId: 'cancelOrder',
        summary: 'Cancel an order before it is paid',
        description: 'Releases the reserved stock and gives the order quota back. A paid order gets 409.',
        tags: ['orders'],
        params: IdParams,
        body: Type.Optional(CancelBody),
        response: { 200: Order, ...errors(400, 401, 404, 409, 503) },
      },
    },
    async (request) => {
      const order = await ownOrder(request.user.sub, request.params.id);
      const state = await checkout.cancel(order.id, request.body?.reason ?? undefined);
      if (state.status !== 'CANCELLED')
        throw new DomainError('ORDER_NOT_CANCELLABLE', `The order is ${state.status.toLowerCase()}`);
      return presentSettled(order, state);
    },
  );
};

export function toOrderResponse(
  order: OrderView,
  payment: PaymentView | null,
  steps?: string[],
  refunds?: RefundView[],
) {
  return {
    id: order.id,
    customerId: order.customerId,
    workflowId: orderWorkflowId(order.id),
    status: order.status,
    lines: order.lines,
    totalCents: order.totalCents,
    currency: order.currency,
    expiresAt: order.expiresAt?.toISOString() ?? null,
    payment: payment && {
      status: payment.status,
      amountCents: payment.amountCents,
      currency: payment.currency,
      paymentIntentId: payment.paymentIntentId,
      attempts: payment.attempts,
      refunded: payment.refunded,
    },
    // The failure's own message (a database error, a Stripe message) stays with operators; customers get the customer-safe form.
    failure: order.failureCode
      ? customerFailure({ code: order.failureCode, message: order.failureReason ?? order.failureCode })
      : null,
    ...(steps ? { steps } : {}),
    refundedCents: order.refundedCents,
    ...(refunds ? { refunds: refunds.map(toRefundResponse), timeline: orderTimeline(order, refunds) } : {}),
    createdAt: order.createdAt.toISOString(),
    updatedAt: order.updatedAt.toISOString(),
  };
}
