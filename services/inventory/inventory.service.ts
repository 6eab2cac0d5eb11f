/** Inventory: the product catalogue and the stock that orders reserve, commit and release. */
import { DomainError, isUniqueViolation } from '../../lib/errors';
import type pg from 'pg';
import { BULK_TRANSACTION } from '../../lib/db/transaction-options';
import { inSqlTransaction } from '../../lib/db/sql-transaction';
import { cursorCodec, pageLimit, toPage, type Page, type PageRequest } from '../../lib/paging';
import { holdingRefusal, type HoldingLimits } from '../../lib/holding-limits';
import type { InventoryDb } from './db';
import { MOVE_RESERVATION, RESERVE_ORDER, type MoveReservationRow, type ReserveOrderRow } from './stock-steps.sql';
import type { Prisma, Product, ReservationStatus } from './generated/client';

/**
 * Where the inventory database announces a change of what the catalogue shows (a product added,
 * renamed, repriced, its available units moved): a trigger on the products table sends it at
 * commit (prisma/inventory/migrations/*_catalogue_change_notify), with an empty payload.
 */
export const CATALOGUE_CHANNEL = 'storefront_catalogue';

/**
 * The reason of a product's first ledger entry: 'opening stock' when the product is created,
 * 'opening balance' for products that had stock before the ledger existed (its migration wrote those).
 */
export const OPENING_STOCK_REASONS = ['opening stock', 'opening balance'] as const;

/** Units a product may have available, and one adjustment may move: keeps every bucket far inside int4. */
export const MAX_AVAILABLE = 1_000_000;

export interface ProductView {
  id: string;
  sku: string;
  name: string;
  priceCents: number;
  currency: string;
  available: number;
  version: number;
}

export interface NewProduct {
  sku: string;
  name: string;
  priceCents: number;
  currency?: string;
  available: number;
}

/** A product under an id chosen by the caller (the demo catalogue's fixed ids). */
export interface NewProductWithId extends NewProduct {
  id: string;
}

export interface ProductChanges {
  /** The version the caller last saw; a stale one is refused with VERSION_CONFLICT. */
  version: number;
  name?: string;
  priceCents?: number;
}

export interface StockAdjustmentInput {
  productId: string;
  /** Units added (a delivery) or, negative, taken away (a write-off) from the available ones. */
  delta: number;
  reason: string;
}

export interface ReservationLineInput {
  productId: string;
  quantity: number;
}

export interface ReserveStockInput {
  orderId: string;
  lines: ReservationLineInput[];
  /** Who holds the reservation; with `holdingLimits`, what they already hold counts. */
  customerId?: string;
  /** Their plan's holding limits (docs/design.md "Holding limits"); without them none apply. */
  holdingLimits?: HoldingLimits;
}

export interface ReservationView {
  orderId: string;
  status: ReservationStatus;
  lines: ReservationLineInput[];
}

export interface ProductPageRequest extends PageRequest {
  /** Case-insensitive text searched for anywhere in the name or the SKU. */
  q?: string;
  /** true: only products with units available; false: only those with none. */
  available?: boolean;
}

/** The catalogue is paged in SKU order: unique, and never changed once a product exists (the scale-data benchmark starts deep in it). */
export const productCursor = cursorCodec(
  'p',
  (parts): parts is [string] => parts.length === 1 && typeof parts[0] === 'string',
);

/** `text` as a LIKE pattern matching itself: its wildcards and escapes taken literally. */
function likeLiteral(text: string): string {
  return text.replace(/[\\%_]/g, (char) => `\\${char}`);
}

export function toProductView(product: Product): ProductView {
  const { id, sku, name, priceCents, currency, available, version } = product;
  return { id, sku, name, priceCents, currency, available, version };
}

export class InventoryService {
  constructor(private readonly db: InventoryDb) {}

  async listProducts(): Promise<ProductView[]> {
    const products = await this.db.product.findMany({ orderBy: { sku: 'asc' } });
    return products.map(toProductView);
  }

  /**
   * One page of the catalogue in SKU order, searched and filtered. A search is ILIKE '%q%' on the
   * name and the SKU, which the trigram indexes (pg_trgm) answer without reading every product.
   */
  async listProductsPage(request: ProductPageRequest = {}): Promise<Page<ProductView>> {
    const limit = pageLimit(request.limit);
    const where: Prisma.ProductWhereInput = {};
    if (request.cursor !== undefined) where.sku = { gt: productCursor.decode(request.cursor)[0] };
    if (request.available !== undefined) where.available = request.available ? { gt: 0 } : 0;
    const q = request.q?.trim();
    if (q) {
      // Prisma sends `contains` as ILIKE '%…%' without escaping the wildcards in it (prisma/prisma#19506).
      const contains = likeLiteral(q);
      where.OR = [{ name: { contains, mode: 'insensitive' } }, { sku: { contains, mode: 'insensitive' } }];
    }
    const rows = await this.db.product.findMany({ where, orderBy: { sku: 'asc' }, take: limit + 1 });
    return toPage(rows, limit, productCursor, (row) => [row.sku], toProductView);
  }

  async getProducts(ids: string[]): Promise<ProductView[]> {
    const products = await this.db.product.findMany({ where: { id: { in: ids } } });
    return products.map(toProductView);
  }

  async getProduct(id: string): Promise<ProductView | null> {
    const product = await this.db.product.findUnique({ where: { id } });
    return product ? toProductView(product) : null;
  }

  async createProduct(input: NewProduct): Promise<ProductView> {
    try {
      const product = await this.db.product.create({
        data: {
          sku: input.sku,
          name: input.name,
          priceCents: input.priceCents,
          currency: input.currency ?? 'usd',
          available: input.available,
          // The opening stock is the first adjustment, so the ledger always sums to the product's units.
          ...(input.available !== 0
            ? { stockAdjustments: { create: { delta: input.available, reason: OPENING_STOCK_REASONS[0] } } }
            : {}),
        },
      });
      return toProductView(product);
    } catch (error) {
      if (isUniqueViolation(error))
        throw new DomainError('SKU_TAKEN', `A product with SKU ${input.sku} already exists`);
      throw error;
    }
  }

  /**
   * Creates many products as createProduct does (each with its opening stock in the ledger), in one
   * transaction of three statements: all or none, SKU_TAKEN if any SKU exists. For seeding a large
   * catalogue, where a transaction per product costs round trips rather than work. Answers them in
   * the order given.
   */
  async createProducts(inputs: NewProduct[]): Promise<ProductView[]> {
    try {
      const created = await this.db.$transaction(async (tx) => {
        const products = await tx.product.createManyAndReturn({
          data: inputs.map((input) => ({
            sku: input.sku,
            name: input.name,
            priceCents: input.priceCents,
            currency: input.currency ?? 'usd',
            available: input.available,
          })),
        });
        await tx.stockAdjustment.createMany({
          data: products
            .filter((product) => product.available !== 0)
            .map((product) => ({ productId: product.id, delta: product.available, reason: OPENING_STOCK_REASONS[0] })),
        });
        return products;
      }, BULK_TRANSACTION);
      const bySku = new Map(created.map((product) => [product.sku, toProductView(product)]));
      return inputs.map((input) => bySku.get(input.sku)!);
    } catch (error) {
      if (isUniqueViolation(error))
        throw new DomainError('SKU_TAKEN', 'A product with one of these SKUs already exists');
      throw error;
    }
  }

  /**
   * Creates the product with its opening stock in the ledger, unless a product with its id or SKU
   * exists (that one is left as it is). Answers whether it created it. Safe when two callers race:
   * the insert is an INSERT ... ON CONFLICT DO NOTHING, and only the one that inserted writes the
   * ledger, in the same transaction.
   */
  async ensureProduct(input: NewProductWithId): Promise<boolean> {
    return this.db.$transaction(async (tx) => {
      const { count } = await tx.product.createMany({
        data: [
          {
            id: input.id,
            sku: input.sku,
            name: input.name,
            priceCents: input.priceCents,
            currency: input.currency ?? 'usd',
            available: input.available,
          },
        ],
        skipDuplicates: true,
      });
      if (count === 1 && input.available !== 0)
        await tx.stockAdjustment.create({
          data: { productId: input.id, delta: input.available, reason: OPENING_STOCK_REASONS[0] },
        });
      return count === 1;
    });
  }

  /**
   * Writes a product's opening stock to the ledger when the ledger has no opening entry for it
   * (a product inserted without one), and answers whether it wrote it (no product: false). The row is locked
   * first, so two concurrent calls write one entry. The caller states the units the product was
   * created with: the current buckets are not taken, or a real drift would be recorded as stock.
   */
  async recordMissingOpeningStock(productId: string, units: number): Promise<boolean> {
    if (!Number.isInteger(units) || units === 0) return false;
    return this.db.$transaction(async (tx) => {
      const locked = await tx.$queryRaw<
        { id: string }[]
      >`SELECT id FROM products WHERE id = ${productId}::uuid FOR UPDATE`;
      if (locked.length === 0) return false;
      const opening = await tx.stockAdjustment.count({
        where: { productId, reason: { in: [...OPENING_STOCK_REASONS] } },
      });
      if (opening > 0) return false;
      await tx.stockAdjustment.create({ data: { productId, delta: units, reason: OPENING_STOCK_REASONS[0] } });
      return true;
    });
  }

  /**
   * Changes the stock by a delta, recorded in the ledger. A delta commutes with reservations (it is
   * one `available = available + delta` under the row lock), so no stock change made from a stale
   * read can give reserved units back: that is why stock is never set, only adjusted
   * (docs/hostile-input.md). Taking away more than is available is refused with INSUFFICIENT_STOCK.
   */
  async adjustStock(input: StockAdjustmentInput): Promise<ProductView> {
    const { productId, delta, reason } = input;
    if (!Number.isInteger(delta) || delta === 0)
      throw new DomainError('VALIDATION_FAILED', 'A stock adjustment is a non-zero whole number of units');
    return this.db.$transaction(async (tx) => {
      const changed = await tx.product.updateMany({
        where: { id: productId, available: delta < 0 ? { gte: -delta } : { lte: MAX_AVAILABLE - delta } },
        data: { available: { increment: delta } },
      });
      if (changed.count === 0) {
        const product = await tx.product.findUnique({ where: { id: productId } });
        if (!product) throw new DomainError('PRODUCT_NOT_FOUND', `No product ${productId}`);
        if (delta > 0)
          throw new DomainError(
            'STOCK_LIMIT',
            `A product has at most ${MAX_AVAILABLE} units available; ${product.sku} has ${product.available}`,
          );
        throw new DomainError(
          'INSUFFICIENT_STOCK',
          `Only ${product.available} units of ${product.sku} are available to take away, not ${-delta}`,
          {
            available: product.available,
          },
        );
      }
      await tx.stockAdjustment.create({ data: { productId, delta, reason } });
      return toProductView(await tx.product.findUniqueOrThrow({ where: { id: productId } }));
    });
  }

  /** Optimistic concurrency: the update applies only if the row still has the version the caller saw. */
  async updateProduct(id: string, changes: ProductChanges): Promise<ProductView> {
    const { version, ...fields } = changes;
    const updated = await this.db.product.updateMany({
      where: { id, version },
      data: { ...fields, version: { increment: 1 } },
    });
    if (updated.count === 0) {
      const current = await this.db.product.findUnique({ where: { id } });
      if (!current) throw new DomainError('PRODUCT_NOT_FOUND', `No product ${id}`);
      throw new DomainError('VERSION_CONFLICT', `Product ${id} is at version ${current.version}, not ${version}`, {
        currentVersion: current.version,
      });
    }
    return toProductView(await this.db.product.findUniqueOrThrow({ where: { id } }));
  }

  /**
   * Reserves every line of an order, or nothing. Idempotent by orderId: the unique reservation per
   * order means a retry answers the reservation already made. One statement (RESERVE_ORDER), which
   * says why no two orders can take the last unit.
   *
   * The customer's holding limits are decided in the same transaction, before it commits, under a
   * transaction-scoped advisory lock of that customer: two orders of one customer reserve one after
   * the other, and the second counts the first's held units (READ COMMITTED: the reservation
   * statement's snapshot is taken after the lock was granted, so it sees what the first committed).
   * Other customers never wait on it. The rule itself stays in lib/holding-limits.ts: an order it
   * refuses is rolled back.
   */
  async reserve(input: ReserveStockInput): Promise<ReservationView> {
    const { orderId, customerId, holdingLimits } = input;
    const lines = mergeLines(input.lines);
    const reserveOn = async (db: Pick<pg.ClientBase, 'query'>, countHolding: boolean) => {
      const { rows } = await db.query<ReserveOrderRow>(RESERVE_ORDER, [
        orderId,
        customerId ?? null,
        lines.map((line) => line.productId),
        lines.map((line) => line.quantity),
        countHolding ? customerId : null,
      ]);
      return rows;
    };
    const rows =
      customerId && holdingLimits
        ? await inSqlTransaction(this.db.sql, async (client) => {
            await client.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`holding:${customerId}`]);
            const reserved = await reserveOn(client, true);
            const refusal = reserved[0]!.existing_status ? null : holdingRefusalOf(holdingLimits, reserved);
            // Throwing rolls the reservation back: nothing of a refused order is kept.
            if (refusal) throw new DomainError('HOLD_LIMIT_REACHED', refusal.message, refusal.details);
            return reserved;
          })
        : await reserveOn(this.db.sql, false);
    const [outcome] = rows;
    if (outcome!.existing_status)
      return { orderId, status: outcome!.existing_status as ReservationStatus, lines: outcome!.existing_lines ?? [] };
    if (outcome!.created) return { orderId, status: 'HELD', lines };
    // Nothing was written: a line did not fit, or a concurrent call of the same order reserved first
    // (possibly the very units this one missed). Its reservation is then the answer.
    const winner = await this.findReservation(orderId);
    if (winner) return winner;
    throw stockRefusal(rows);
  }

  /**
   * Reserves the stock of many orders at once, as reserve does for each (no holding limits), in one
   * transaction: every product's units taken for all of them together, all or none (OUT_OF_STOCK
   * when a product has too few). For seeding a long order history, where a transaction per order
   * costs round trips rather than work. Orders already holding a reservation are refused (a unique
   * violation): reserve is the idempotent one.
   */
  async reserveMany(inputs: Array<Omit<ReserveStockInput, 'holdingLimits'>>): Promise<void> {
    await this.db.$transaction(async (tx) => {
      const reservations = await tx.reservation.createManyAndReturn({
        data: inputs.map((input) => ({ orderId: input.orderId, customerId: input.customerId })),
      });
      const idOf = new Map(reservations.map((reservation) => [reservation.orderId, reservation.id]));
      const lines = inputs.flatMap((input) =>
        mergeLines(input.lines).map((line) => ({ reservationId: idOf.get(input.orderId)!, ...line })),
      );
      await tx.reservationLine.createMany({ data: lines });
      const units = new Map<string, number>();
      for (const line of lines) units.set(line.productId, (units.get(line.productId) ?? 0) + line.quantity);
      // In a fixed order, so two batches never wait on each other's rows in a circle.
      for (const [productId, quantity] of [...units].sort(([a], [b]) => a.localeCompare(b))) {
        const taken = await tx.product.updateMany({
          where: { id: productId, available: { gte: quantity } },
          data: { available: { decrement: quantity }, reserved: { increment: quantity } },
        });
        if (taken.count === 0)
          throw new DomainError('OUT_OF_STOCK', `Fewer than ${quantity} units of product ${productId} left`, {
            productId,
            requested: quantity,
          });
      }
    }, BULK_TRANSACTION);
  }

  /**
   * Refuses with HOLD_LIMIT_REACHED an order that would take the customer over their holding
   * limits as things stand: the API's early answer, before any workflow starts. Not atomic (two
   * orders at once can both pass it); reserve decides again under the customer's lock.
   */
  async checkHoldingLimits(customerId: string, lines: ReservationLineInput[], limits: HoldingLimits): Promise<void> {
    const refusal = await this.holdingRefusalIn(this.db, customerId, mergeLines(lines), limits);
    if (refusal) throw new DomainError('HOLD_LIMIT_REACHED', refusal.message, refusal.details);
  }

  /** What the customer holds unpaid (their HELD reservations) against their limits, for these lines. */
  private async holdingRefusalIn(
    db: Prisma.TransactionClient,
    customerId: string,
    lines: ReservationLineInput[],
    limits: HoldingLimits,
  ) {
    // One after the other: inside a transaction both go over its one connection anyway.
    const held = await db.reservation.findMany({
      where: { customerId, status: 'HELD' },
      select: { lines: { select: { productId: true, quantity: true } } },
    });
    const products = await db.product.findMany({
      where: { id: { in: lines.map((line) => line.productId) } },
      select: { id: true, sku: true, available: true, reserved: true },
    });
    const unitsByProduct = new Map<string, number>();
    for (const line of held.flatMap((reservation) => reservation.lines))
      unitsByProduct.set(line.productId, (unitsByProduct.get(line.productId) ?? 0) + line.quantity);
    const stock = new Map(products.map((product) => [product.id, product]));
    // A line of an unknown product is left to the reservation, which refuses it UNKNOWN_PRODUCT.
    const known = lines.flatMap((line) => {
      const product = stock.get(line.productId);
      return product ? [{ ...line, sku: product.sku, available: product.available, reserved: product.reserved }] : [];
    });
    return holdingRefusal(limits, { unpaidOrders: held.length, unitsByProduct }, known);
  }

  /**
   * Compensation for reserve: gives held (or, after a failed later step, sold) units back.
   * A no-op when the order reserved nothing or was released already.
   */
  async release(orderId: string): Promise<ReservationView | null> {
    const { moved, lines } = await this.moveReservation(orderId, ['HELD', 'COMMITTED'], 'RELEASED');
    return moved ? { orderId, status: 'RELEASED', lines } : null;
  }

  /** A paid order's reservation becomes a sale. Idempotent. */
  async commit(orderId: string): Promise<ReservationView> {
    const { found, moved, lines } = await this.moveReservation(orderId, ['HELD'], 'COMMITTED');
    if (!found) throw new DomainError('RESERVATION_NOT_FOUND', `Order ${orderId} has no reservation`);
    if (!moved && found === 'RELEASED') {
      throw new DomainError('RESERVATION_RELEASED', `The reservation of order ${orderId} was released`);
    }
    return { orderId, status: 'COMMITTED', lines };
  }

  /** Reservations given back by a compensation (expiry, cancel, a later failure): the stock step's compensations run. */
  async countReleasedReservations(): Promise<number> {
    return this.db.reservation.count({ where: { status: 'RELEASED' } });
  }

  async findReservation(orderId: string): Promise<ReservationView | null> {
    const reservation = await this.db.reservation.findUnique({ where: { orderId }, include: { lines: true } });
    if (!reservation) return null;
    return {
      orderId,
      status: reservation.status,
      lines: reservation.lines.map((l) => ({ productId: l.productId, quantity: l.quantity })),
    };
  }

  /** Moves a reservation from one of `from` to `to` and its units between the stock buckets (MOVE_RESERVATION). */
  private async moveReservation(orderId: string, from: ReservationStatus[], to: ReservationStatus) {
    const { rows } = await this.db.sql.query<MoveReservationRow>(MOVE_RESERVATION, [orderId, from, to]);
    return {
      /** The status it had, or null when the order has no reservation. */
      found: rows[0]?.found_status ?? null,
      moved: rows[0]?.moved ?? false,
      lines: linesOf(rows),
    };
  }
}

function linesOf(rows: Array<{ product_id: string | null; quantity: number | null }>): ReservationLineInput[] {
  return rows.flatMap((row) =>
    row.product_id === null ? [] : [{ productId: row.product_id, quantity: row.quantity! }],
  );
}

/** The customer's holding as RESERVE_ORDER read it, judged by the plan's limits (lib/holding-limits.ts). */
function holdingRefusalOf(limits: HoldingLimits, rows: ReserveOrderRow[]) {
  const unitsByProduct = new Map(rows.map((row) => [row.product_id ?? '', row.held_units]));
  // A line of an unknown product is left to the reservation, which refuses it UNKNOWN_PRODUCT.
  const known = rows.flatMap((row) =>
    row.sku === null
      ? []
      : [
          {
            productId: row.product_id!,
            quantity: row.quantity!,
            sku: row.sku,
            available: row.available!,
            reserved: row.reserved!,
          },
        ],
  );
  return holdingRefusal(limits, { unpaidOrders: rows[0]!.held_orders, unitsByProduct }, known);
}

/** Why RESERVE_ORDER took nothing: its first line (in product-id order) that is unknown or does not fit. */
function stockRefusal(rows: ReserveOrderRow[]): Error {
  for (const row of rows) {
    if (row.product_id === null) continue;
    if (row.sku === null)
      return new DomainError('UNKNOWN_PRODUCT', `No product ${row.product_id}`, { productId: row.product_id });
    if (row.available! < row.quantity!)
      return new DomainError('OUT_OF_STOCK', `Only ${row.available} of ${row.sku} left, ${row.quantity} wanted`, {
        productId: row.product_id,
        sku: row.sku,
        available: row.available,
        requested: row.quantity,
      });
  }
  // Every line fitted, yet nothing was reserved and no reservation is found: not a business answer, so
  // a plain error, which the activity retries.
  return new Error('The reservation of the order was neither made nor found');
}

function byProductId(a: { productId: string }, b: { productId: string }): number {
  return a.productId < b.productId ? -1 : a.productId > b.productId ? 1 : 0;
}

/** One line per product (quantities summed), in product-id order to avoid deadlocks. */
export function mergeLines(lines: ReservationLineInput[]): ReservationLineInput[] {
  const totals = new Map<string, number>();
  for (const line of lines) totals.set(line.productId, (totals.get(line.productId) ?? 0) + line.quantity);
  return [...totals].map(([productId, quantity]) => ({ productId, quantity })).sort(byProductId);
}
