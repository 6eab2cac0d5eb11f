/** Carts: what each user means to buy, cleared of what an order bought once it is paid. */
import { DomainError, isUniqueViolation } from '../../lib/errors';
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
   * Removes what a paid order bought. Idempotent by order: the clearing record is written in
   * the same transaction, so a retry after a crash finds it and changes nothing.
   */
  async clearForOrder(input: ClearCartInput): Promise<{ cleared: boolean }> {
    try {
      return await this.db.$transaction(async (tx) => {
        const done = await tx.cartClearing.findUnique({ where: { orderId: input.orderId } });
        if (done) return { cleared: false };
        await tx.cartClearing.create({ data: { orderId: input.orderId, userId: input.userId } });
        for (const line of input.lines) {
          const item = { userId: input.userId, productId: line.productId };
          await tx.cartItem.deleteMany({ where: { ...item, quantity: { lte: line.quantity } } });
          await tx.cartItem.updateMany({
            where: { ...item, quantity: { gt: line.quantity } },
            data: { quantity: { decrement: line.quantity } },
          });
        }
        return { cleared: true };
      });
    } catch (error) {
      if (isUniqueViolation(error)) return { cleared: false }; // a concurrent retry cleared it
      throw error;
    }
  }
}
