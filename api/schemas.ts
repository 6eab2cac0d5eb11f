/** TypeBox schemas shared by the routes: ids, money, the error body and the resources of the API in docs/design.md. */
import { Type, type Static, type TStringOptions } from 'typebox';
import { ORDER_STATUSES } from '../workflows/contract';
import { CURRENCIES, MAX_PRICE_CENTS, MAX_QUANTITY } from '../lib/money';
import { UUID_PATTERN } from '../lib/ids';
import { STORABLE_TEXT_PATTERN, isStorableText } from '../lib/text';
export { STORABLE_TEXT_PATTERN, isStorableText };

/**
 * A plain UUID, hyphenated, and nothing else. Not ajv's `uuid` format: it also accepts `urn:uuid:…`,
 * which PostgreSQL's uuid type refuses (a 500 before this pattern).
 */
export const Uuid = Type.String({ pattern: UUID_PATTERN, minLength: 36, maxLength: 36, description: 'A UUID' });

/**
 * A string the API accepts from a client: any text PostgreSQL can store. Every request string
 * without a stricter ASCII pattern of its own is a Text (api/openapi.api.test.ts walks the routes).
 */
export function Text(options: Omit<TStringOptions, 'pattern'> = {}) {
  return Type.String({ ...options, pattern: STORABLE_TEXT_PATTERN });
}

/**
 * Where in a request value (a body, params, a query, headers) the first text PostgreSQL cannot
 * store is, as a dotted path ('' for the value itself); undefined when there is none. Object keys
 * count: a key is text a client sent too.
 */
export function unstorableTextAt(value: unknown, path = ''): string | undefined {
  if (typeof value === 'string') return isStorableText(value) ? undefined : path;
  if (value === null || typeof value !== 'object') return undefined;
  for (const [key, item] of Object.entries(value)) {
    const at = path ? `${path}.${key}` : key;
    if (!isStorableText(key)) return at;
    const found = unstorableTextAt(item, at);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** PostgreSQL's int4: any integer a client sends into one (a version, a count) must fit it. */
export const INT4_MAX = 2_147_483_647;
export const UserId = Type.String({
  pattern: '^[A-Za-z0-9_-]{1,64}$',
  minLength: 1,
  maxLength: 64,
  description: 'A user id: 1 to 64 of [A-Za-z0-9_-]',
});
export const Cents = Type.Integer({ minimum: 0, description: 'Money in integer cents' });
/** A price as a client may set it: at most what Stripe can charge. */
export const PriceCents = Type.Integer({
  minimum: 0,
  maximum: MAX_PRICE_CENTS,
  description: `A unit price in integer cents, at most ${MAX_PRICE_CENTS}`,
});
export const Currency = Type.String({ pattern: '^[a-z]{3}$', description: 'Lowercase ISO 4217 currency' });
/** A currency as a client may choose it: one of the two-decimal currencies the store takes (lib/money.ts). */
export const AcceptedCurrency = Type.Union(
  CURRENCIES.map((currency) => Type.Literal(currency)),
  { description: `A lowercase two-decimal ISO 4217 currency: ${CURRENCIES.join(', ')}` },
);
export const Quantity = Type.Integer({ minimum: 1, maximum: MAX_QUANTITY });
export const Timestamp = Type.String({ format: 'date-time' });

export const ErrorBody = Type.Object(
  { error: Type.Object({ code: Type.String(), message: Type.String() }) },
  { $id: 'ErrorBody', description: 'Every error: a stable code and a message for people' },
);

/** The error responses a route documents, by status. */
export function errors(...statuses: number[]): Record<number, typeof ErrorBody> {
  return Object.fromEntries(statuses.map((status) => [status, ErrorBody]));
}

export const IdParams = Type.Object({ id: Uuid });
export type IdParams = Static<typeof IdParams>;

export const Product = Type.Object({
  id: Uuid,
  sku: Type.String(),
  name: Type.String(),
  priceCents: Cents,
  currency: Currency,
  available: Type.Integer({ minimum: 0 }),
  version: Type.Integer({ minimum: 1 }),
});

export const CartItem = Type.Object({ productId: Uuid, quantity: Quantity, priceCents: Cents });
export const Cart = Type.Object({ items: Type.Array(CartItem), totalCents: Cents, currency: Currency });

export const OrderLine = Type.Object({
  productId: Uuid,
  sku: Type.String(),
  name: Type.String(),
  quantity: Quantity,
  unitPriceCents: Cents,
});
/** The order statuses, from the one list in workflows/contract.ts. */
export const OrderStatus = Type.Enum([...ORDER_STATUSES], {
  type: 'string',
  description:
    'The order status machine: PENDING → AWAITING_PAYMENT → PAID → COMPLETED (→ PARTIALLY_REFUNDED → REFUNDED), or a terminal one',
});
export const Payment = Type.Object({
  status: Type.String(),
  amountCents: Cents,
  currency: Currency,
  paymentIntentId: Type.Union([Type.String(), Type.Null()]),
  attempts: Type.Array(
    Type.Object({
      attempt: Type.Integer(),
      outcome: Type.Union([Type.String(), Type.Null()]),
      declineCode: Type.Union([Type.String(), Type.Null()]),
    }),
  ),
  refunded: Type.Boolean(),
});
/** A refund after the sale (POST /v1/orders/:id/refunds, and each of an order's `refunds`). */
export const Refund = Type.Object({
  id: Uuid,
  orderId: Uuid,
  status: Type.Union([Type.Literal('PENDING'), Type.Literal('SUCCEEDED'), Type.Literal('FAILED')], {
    description: 'PENDING until Stripe has said; FAILED when Stripe refused it (nothing was restocked)',
  }),
  amountCents: Cents,
  currency: Currency,
  lines: Type.Array(Type.Object({ productId: Uuid, quantity: Quantity })),
  restock: Type.Boolean(),
  reason: Type.String(),
  failure: Type.Union([Type.Object({ code: Type.String(), message: Type.String() }), Type.Null()]),
  createdAt: Timestamp,
});
/** One moment of an order's life, on a single order's read (api/order-timeline.ts). */
export const OrderTimelineEntry = Type.Union([
  Type.Object({
    at: Timestamp,
    kind: Type.Literal('status'),
    status: OrderStatus,
    from: Type.Union([OrderStatus, Type.Null()], { description: 'null for the order being placed' }),
  }),
  Type.Object({
    at: Timestamp,
    kind: Type.Literal('refund'),
    refundId: Uuid,
    status: Refund.properties.status,
    amountCents: Cents,
    currency: Currency,
    reason: Type.String(),
  }),
]);
export const Order = Type.Object({
  id: Uuid,
  /** Whose order it is: the customer's own id, or for admins the customer's across the store. */
  customerId: Type.String(),
  workflowId: Type.String(),
  status: OrderStatus,
  lines: Type.Array(OrderLine),
  totalCents: Cents,
  currency: Currency,
  expiresAt: Type.Union([Timestamp, Type.Null()]),
  payment: Type.Union([Payment, Type.Null()]),
  failure: Type.Union([Type.Object({ code: Type.String(), message: Type.String() }), Type.Null()]),
  /** The saga's completed steps, from the workflow; absent in lists and while Temporal is unreachable. */
  steps: Type.Optional(Type.Array(Type.String())),
  /** Money refunded after the sale. */
  refundedCents: Cents,
  /** The order's refunds after the sale, oldest first; on a single order's read, absent in lists. */
  refunds: Type.Optional(Type.Array(Refund)),
  /** Each status with its time and each refund, oldest first; on a single order's read, absent in lists. */
  timeline: Type.Optional(Type.Array(OrderTimelineEntry)),
  createdAt: Timestamp,
  updatedAt: Timestamp,
});
