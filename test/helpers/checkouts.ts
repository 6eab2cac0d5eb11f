/** Checkouts the end-to-end tests start on the workflow directly: one product, a new customer each time. */
import { randomUUID } from 'node:crypto';
import type { InventoryService, ProductView } from '../../services/inventory/inventory.service';
import type { CheckoutInput } from '../../workflows/contract';

/** A new product (SKU `<prefix>-…`) with `available` units. */
export function newProduct(
  inventory: InventoryService,
  prefix: string,
  available: number,
  priceCents = 2_000,
): Promise<ProductView> {
  const sku = `${prefix}-${randomUUID().slice(0, 8)}`;
  return inventory.createProduct({ sku, name: `Product ${sku}`, priceCents, available });
}

/** `quantity` units of the product at its price, for a customer no other test has, expiring after `ttlSeconds`. */
export function checkoutOf(
  product: Pick<ProductView, 'id' | 'sku' | 'name' | 'priceCents'>,
  quantity: number,
  ttlSeconds: number,
  customerPrefix: string,
): CheckoutInput {
  return {
    orderId: randomUUID(),
    customerId: `${customerPrefix}-${randomUUID().slice(0, 8)}`,
    currency: 'usd',
    ttlSeconds,
    lines: [
      { productId: product.id, sku: product.sku, name: product.name, quantity, unitPriceCents: product.priceCents },
    ],
  };
}
