/** Cart activities: clear what a paid order bought (forward-only: it retries, it is never undone). */
import type { CartService, ClearCartInput } from '../services/cart/cart.service';
import { withBusinessFailures } from '../lib/business-failures';

export type { ClearCartInput } from '../services/cart/cart.service';

export function createCartActivities(deps: { cart: CartService }) {
  const { cart } = deps;
  return withBusinessFailures({
    async clearCart(input: ClearCartInput): Promise<{ cleared: boolean }> {
      return cart.clearForOrder(input);
    },
  });
}

export type CartActivities = ReturnType<typeof createCartActivities>;
