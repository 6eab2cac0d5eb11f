/** Inventory activities: reserve stock for an order, and its pair release; commit once paid. */
import type { InventoryService, ReserveStockInput } from '../services/inventory/inventory.service';
import { withBusinessFailures } from '../lib/business-failures';

export type { ReserveStockInput } from '../services/inventory/inventory.service';

export interface OrderRef {
  orderId: string;
}

export interface StockResult {
  /** HELD, COMMITTED or RELEASED; null when the order had no reservation. */
  status: string | null;
}

export function createInventoryActivities(deps: { inventory: InventoryService }) {
  const { inventory } = deps;
  return withBusinessFailures({
    async reserveStock(input: ReserveStockInput): Promise<StockResult> {
      return { status: (await inventory.reserve(input)).status };
    },
    async releaseStock(input: OrderRef): Promise<StockResult> {
      return { status: (await inventory.release(input.orderId))?.status ?? null };
    },
    async commitStock(input: OrderRef): Promise<StockResult> {
      return { status: (await inventory.commit(input.orderId)).status };
    },
  });
}

export type InventoryActivities = ReturnType<typeof createInventoryActivities>;
