/**
 * Turns a POST /v1/orders request into a checkout: resolves the lines (body or cart) at the
 * catalogue's prices, derives the order id from the Idempotency-Key so duplicates meet at
 * one workflow id, and answers with the reservation's outcome.
 */
import { createHash, randomUUID } from 'node:crypto';
import { v5 as uuidv5 } from 'uuid';
import type { CheckoutClient } from '../temporal/checkout-client';
import { customerFailure } from './customer-messages';
import { DomainError } from '../lib/errors';
import { isErrorCode } from '../lib/error-codes';
import { assertOrderWithinBounds } from '../lib/money';
import type { CartService } from '../services/cart/cart.service';
import type { InventoryService } from '../services/inventory/inventory.service';
import type { OrdersService, OrderView } from '../services/orders/orders.service';
import type { QuotaService } from '../services/quota/quota.service';
import { orderTotalCents, type CheckoutInput, type OrderLineInput } from '../workflows/contract';

/** Namespace of the order ids derived from (user, Idempotency-Key); fixed forever. */
const ORDER_ID_NAMESPACE = '6f1d7c1e-3c55-4f0e-9d7b-2f1a0c6b8e41';

export interface PlaceOrderRequest {
  customerId: string;
  items?: { productId: string; quantity: number }[];
  idempotencyKey?: string;
}

export interface PlacementDeps {
  checkout: CheckoutClient;
  orders: OrdersService;
  inventory: Pick<InventoryService, 'getProducts' | 'checkHoldingLimits'>;
  cart: Pick<CartService, 'get'>;
  quota: Pick<QuotaService, 'holdingLimitsOf'>;
  orderTtlSeconds: number;
}

export interface Placement {
  order: OrderView;
  /** True when this request repeated an earlier one with the same Idempotency-Key. */
  replayed: boolean;
}

export async function placeOrder(deps: PlacementDeps, request: PlaceOrderRequest): Promise<Placement> {
  const { customerId, idempotencyKey } = request;
  // The hash covers the request as sent: the same key with an empty body means "my cart"
  // every time, even after the order has emptied that cart.
  const requestHash = hashRequest(request.items);
  const orderId = idempotencyKey ? orderIdFor(customerId, idempotencyKey) : randomUUID();

  if (idempotencyKey) {
    const earlier = await deps.orders.findByIdempotencyKey(customerId, idempotencyKey);
    if (earlier) return { order: sameRequest(earlier, requestHash), replayed: true };
  }

  const lines = await resolveLines(deps, customerId, request.items);
  const currencies = new Set(lines.map((line) => line.currency));
  if (currencies.size > 1) throw new DomainError('MIXED_CURRENCIES', 'All items of one order must share a currency');
  // Before any workflow starts: an order Stripe cannot charge is refused at once, never parked.
  assertOrderWithinBounds(lines, orderTotalCents(lines));
  // Over the plan's holding limits as things stand: refused before anything is reserved or recorded.
  // Only the reservation decides atomically (services/inventory reserve); this answers the usual case early.
  const holdingLimits = await deps.quota.holdingLimitsOf(customerId);
  await deps.inventory.checkHoldingLimits(customerId, lines, holdingLimits);
  const input: CheckoutInput = {
    orderId,
    customerId,
    lines: lines.map(({ currency: _currency, ...line }) => line),
    currency: lines[0]!.currency,
    ttlSeconds: deps.orderTtlSeconds,
    holdingLimits,
    ...(idempotencyKey ? { idempotencyKey, requestHash } : {}),
  };

  const state = await deps.checkout.place(input);
  if (state.status === 'REJECTED' || (state.status === 'FAILED' && state.failure)) {
    const failure = customerFailure(state.failure ?? { code: 'ORDER_REJECTED', message: 'The order was rejected' });
    throw new DomainError(isErrorCode(failure.code) ? failure.code : 'ORDER_REJECTED', failure.message);
  }
  const order = await deps.orders.get(orderId);
  if (!order) throw new Error(`order ${orderId} is ${state.status} in its workflow but has no row`);
  // A concurrent request with the same key may have started the workflow with another body.
  return { order: idempotencyKey ? sameRequest(order, requestHash) : order, replayed: false };
}

/** The order id of a (user, Idempotency-Key): duplicates meet at one workflow id. */
export function orderIdFor(customerId: string, idempotencyKey: string): string {
  return uuidv5(`${customerId}\n${idempotencyKey}`, ORDER_ID_NAMESPACE);
}

function sameRequest(order: OrderView, requestHash: string): OrderView {
  if (order.requestHash !== requestHash) {
    throw new DomainError('IDEMPOTENCY_KEY_REUSED', 'This Idempotency-Key was used for a different order request');
  }
  return order;
}

/** A canonical hash of the items as requested (undefined: "order my cart"). */
export function hashRequest(items: PlaceOrderRequest['items']): string {
  const canonical = items
    ? [...items].sort((a, b) => a.productId.localeCompare(b.productId)).map((i) => [i.productId, i.quantity])
    : 'cart';
  return createHash('sha256').update(JSON.stringify(canonical)).digest('hex');
}

type PricedLine = OrderLineInput & { currency: string };

async function resolveLines(
  deps: PlacementDeps,
  customerId: string,
  items: PlaceOrderRequest['items'],
): Promise<PricedLine[]> {
  const wanted = items ?? (await deps.cart.get(customerId)).items;
  if (wanted.length === 0) throw new DomainError('CART_EMPTY', items ? 'The order has no items' : 'The cart is empty');
  const quantities = new Map<string, number>();
  for (const item of wanted) quantities.set(item.productId, (quantities.get(item.productId) ?? 0) + item.quantity);
  const products = new Map((await deps.inventory.getProducts([...quantities.keys()])).map((p) => [p.id, p]));
  return [...quantities].map(([productId, quantity]) => {
    const product = products.get(productId);
    if (!product) throw new DomainError('UNKNOWN_PRODUCT', `No product ${productId}`);
    return {
      productId,
      sku: product.sku,
      name: product.name,
      quantity,
      unitPriceCents: product.priceCents,
      currency: product.currency,
    };
  });
}
