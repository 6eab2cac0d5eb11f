/** Carts: what each user means to buy, cleared of what an order bought once it is paid. */
import { DomainError } from '../../lib/errors';
import { MAX_LINES_PER_ORDER } from '../../lib/money';
import type { CartDb } from './db';

export interface CartItemView {
  productId: string;
  quantity: number;
  priceCents: number;
}

export interface CartView {
  items: CartItemView[];
  totalCents: number;
  currency: string;
}

export interface ClearCartInput {
  orderId: string;
  userId: string;
  /** What the order bought: only these quantities leave the cart, so items added since stay. */
  lines: { productId: string; quantity: number }[];
}

export class CartService {
  constructor(private readonly db: CartDb) {}

  async get(userId: string): Promise<CartView> {
    const items = await this.db.cartItem.findMany({ where: { userId }, orderBy: { productId: 'asc' } });
    return {
      items: items.map(({ productId, quantity, priceCents }) => ({ productId, quantity, priceCents })),
      totalCents: items.reduce((sum, item) => sum + item.quantity * item.priceCents, 0),
      currency: items[0]?.currency ?? 'usd',
    };
  }

  /** Sets an item's quantity; 0 removes it. */
  async setItem(
    userId: string,
    item: { productId: string; quantity: number; priceCents: number; currency?: string },
  ): Promise<CartView> {
    if (item.quantity === 0) return this.removeItem(userId, item.productId);
    const data = { quantity: item.quantity, priceCents: item.priceCents, currency: item.currency ?? 'usd' };
    // A cart becomes one order, so it holds no more products than an order may. Two concurrent adds may
    // pass this check together and leave one product too many; the order placement refuses that cart.
    const others = await this.db.cartItem.count({ where: { userId, productId: { not: item.productId } } });
    if (others >= MAX_LINES_PER_ORDER)
      throw new DomainError('CART_FULL', `A cart holds at most ${MAX_LINES_PER_ORDER} different products`);
    await this.db.cartItem.upsert({
      where: { userId_productId: { userId, productId: item.productId } },
      create: { userId, productId: item.productId, ...data },
      update: data,
    });
    return this.get(userId);
  }

  async removeItem(userId: string, productId: string): Promise<CartView> {
    await this.db.cartItem.deleteMany({ where: { userId, productId } });
    return this.get(userId);
  }

  /**
   * Removes what a paid order bought, in one statement (one round trip, atomic): the clearing
   * record, keyed by the order, decides whether this is the first clear; a retry or a concurrent
   * twin finds it (ON CONFLICT DO NOTHING, which waits for a twin in flight) and changes nothing.
   */
  async clearForOrder(input: ClearCartInput): Promise<{ cleared: boolean }> {
    const { rows } = await this.db.sql.query<{ cleared: boolean }>(CLEAR_FOR_ORDER, [
      input.orderId,
      input.userId,
      input.lines.map((line) => line.productId),
      input.lines.map((line) => line.quantity),
    ]);
    return { cleared: rows[0]?.cleared ?? false };
  }
}

/**
 * $1 order, $2 user, $3/$4 the order's lines as parallel arrays of product ids and quantities.
 * Lines of one product are summed (taking a then b is taking a + b). The items are locked first
 * and the rest computed from what the lock returned: the DELETE and the UPDATE would otherwise each
 * decide from the statement's snapshot, and an item whose quantity a concurrent edit moved across
 * the ordered amount would be neither removed nor lowered. Locking in product order keeps two
 * clears of one cart from deadlocking.
 */
const CLEAR_FOR_ORDER = `
  WITH clearing AS (
    INSERT INTO cart_clearings (order_id, user_id) VALUES ($1, $2)
    ON CONFLICT (order_id) DO NOTHING
    RETURNING order_id
  ), ordered AS (
    SELECT product_id, sum(quantity)::int AS quantity
    FROM unnest($3::uuid[], $4::int[]) AS line (product_id, quantity)
    GROUP BY product_id
  ), held AS (
    SELECT item.product_id, item.quantity - ordered.quantity AS remaining
    FROM cart_items item JOIN ordered USING (product_id)
    WHERE item.user_id = $2 AND EXISTS (SELECT FROM clearing)
    ORDER BY item.product_id
    FOR UPDATE OF item
  ), removed AS (
    DELETE FROM cart_items item USING held
    WHERE item.user_id = $2 AND item.product_id = held.product_id AND held.remaining <= 0
  ), lowered AS (
    UPDATE cart_items item SET quantity = held.remaining, updated_at = now()
    FROM held
    WHERE item.user_id = $2 AND item.product_id = held.product_id AND held.remaining > 0
  )
  SELECT EXISTS (SELECT FROM clearing) AS cleared`;
