/**
 * Holding limits (docs/design.md "Holding limits"): how much stock one customer may hold in unpaid
 * orders at once, from their plan. The rule itself, pure, so the inventory service decides it under
 * its per-customer lock and the workflow contract can carry the limits. Pure data: the workflow
 * bundle may import it.
 */

/** A plan's holding limits, as the quota service keeps them (plan_holding_limits). */
export interface HoldingLimits {
  /** The plan they come from, named in the refusal. */
  plan: string;
  /** Open unpaid orders at once. */
  maxUnpaidOrders: number;
  /** Units of one product held unpaid at once, over all the customer's open orders. */
  maxHeldUnitsPerProduct: number;
  /** Percent of a product's unsold stock (available + reserved) one customer may hold unpaid. */
  maxStockSharePercent: number;
}

/** What the customer holds unpaid now: their open reservations, and their units per product. */
export interface CustomerHolding {
  unpaidOrders: number;
  unitsByProduct: ReadonlyMap<string, number>;
}

/** One line of the order being placed, with its product's stock as the reservation reads it. */
export interface HoldingLine {
  productId: string;
  sku: string;
  quantity: number;
  available: number;
  reserved: number;
}

export interface HoldingRefusal {
  message: string;
  details: Record<string, unknown>;
}

/**
 * Units of a product one customer may hold under a share of its unsold stock: rounded down, but at
 * least one, so a product with a few units left can still be bought by someone.
 */
export function shareAllowance(percent: number, unsoldUnits: number): number {
  return Math.max(1, Math.floor((unsoldUnits * percent) / 100));
}

/**
 * Why the order would take the customer over a limit, or null when it would not. The stock speaks
 * first: a line asking for more than is available is left to the reservation, which refuses it
 * OUT_OF_STOCK (the truer answer: no limit would make it possible).
 */
export function holdingRefusal(
  limits: HoldingLimits,
  holding: CustomerHolding,
  lines: readonly HoldingLine[],
): HoldingRefusal | null {
  const { plan, maxUnpaidOrders, maxHeldUnitsPerProduct, maxStockSharePercent } = limits;
  if (holding.unpaidOrders + 1 > maxUnpaidOrders) {
    return {
      message: `The ${plan} plan allows ${maxUnpaidOrders} unpaid orders at once and you have ${holding.unpaidOrders}: pay or cancel one first`,
      details: { limit: maxUnpaidOrders, unpaidOrders: holding.unpaidOrders },
    };
  }
  for (const line of lines) {
    if (line.quantity > line.available) continue;
    const held = holding.unitsByProduct.get(line.productId) ?? 0;
    const share = shareAllowance(maxStockSharePercent, line.available + line.reserved);
    const limit = Math.min(maxHeldUnitsPerProduct, share);
    if (held + line.quantity > limit) {
      const why =
        limit === maxHeldUnitsPerProduct
          ? `${limit} units of one product`
          : `${maxStockSharePercent}% of a product's stock, here ${limit} units of ${line.sku}`;
      return {
        message: `The ${plan} plan allows holding ${why} unpaid at once; you hold ${held} of ${line.sku} and asked for ${line.quantity}`,
        details: { limit, productId: line.productId, sku: line.sku, held, requested: line.quantity },
      };
    }
  }
  return null;
}
