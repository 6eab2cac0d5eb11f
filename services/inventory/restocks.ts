/**
 * Restocks: units a refund puts back on sale. They leave `sold` for `available` (the product's total
 * is unchanged, so its stock ledger is too), recorded once per refund and product in the restock
 * ledger, which the reconciler matches against the refunds that asked for them.
 */
import { DomainError } from '../../lib/errors';
import { ROW_LOCK_QUEUE_TRANSACTION } from '../../lib/db/transaction-options';
import type { InventoryDb } from './db';
import { mergeLines, type ReservationLineInput } from './inventory.service';

export interface RestockInput {
  refundId: string;
  orderId: string;
  lines: ReservationLineInput[];
}

export interface RestockResult {
  /** Units put back on sale by this refund (all of them, also when an earlier try did it). */
  units: number;
  /** False when an earlier try had already put them back. */
  restocked: boolean;
}

export class RestocksService {
  constructor(private readonly db: InventoryDb) {}

  /**
   * Puts the refund's units back on sale, once: a refund already in the ledger changes nothing. Only
   * units the order bought and no other refund put back may return (RESTOCK_EXCEEDS_SALE otherwise).
   */
  async restock(input: RestockInput): Promise<RestockResult> {
    const lines = mergeLines(input.lines);
    const units = lines.reduce((sum, line) => sum + line.quantity, 0);
    return this.db.$transaction(async (tx) => {
      // The reservation's row lock orders restocks of one order (two refunds of one line at once).
      const reservations = await tx.$queryRaw<{ id: string; status: string }[]>`
        SELECT id, status::text AS status FROM reservations WHERE order_id = ${input.orderId}::uuid FOR UPDATE`;
      const reservation = reservations[0];
      if (!reservation || reservation.status !== 'COMMITTED')
        throw new DomainError('RESTOCK_EXCEEDS_SALE', `Order ${input.orderId} has no sold stock to put back`);
      if ((await tx.restock.count({ where: { refundId: input.refundId } })) > 0) return { units, restocked: false };
      const [bought, returned] = await Promise.all([
        tx.reservationLine.findMany({ where: { reservationId: reservation.id } }),
        tx.restock.groupBy({ by: ['productId'], where: { orderId: input.orderId }, _sum: { quantity: true } }),
      ]);
      for (const line of lines) {
        const sold = bought.find((b) => b.productId === line.productId)?.quantity ?? 0;
        const back = returned.find((r) => r.productId === line.productId)?._sum.quantity ?? 0;
        if (line.quantity > sold - back)
          throw new DomainError(
            'RESTOCK_EXCEEDS_SALE',
            `Order ${input.orderId} sold ${sold} units of ${line.productId} and ${back} are back on sale already; ${line.quantity} more cannot be`,
          );
      }
      // Product rows in id order (mergeLines sorts), as reservations take them: no deadlock between the two.
      for (const line of lines) {
        await tx.product.update({
          where: { id: line.productId },
          data: { sold: { decrement: line.quantity }, available: { increment: line.quantity } },
        });
        await tx.restock.create({
          data: {
            refundId: input.refundId,
            orderId: input.orderId,
            productId: line.productId,
            quantity: line.quantity,
          },
        });
      }
      return { units, restocked: true };
    }, ROW_LOCK_QUEUE_TRANSACTION);
  }

  /** Units of each product put back on sale for an order. */
  async restockedFor(orderId: string): Promise<Map<string, number>> {
    const rows = await this.db.restock.groupBy({ by: ['productId'], where: { orderId }, _sum: { quantity: true } });
    return new Map(rows.map((row) => [row.productId, row._sum.quantity ?? 0]));
  }
}
