/** Orders: the customer's order, its priced lines and every status it went through. */
import { DomainError, isUniqueViolation } from '../../lib/errors';
import { MAX_ORDER_CENTS, MONEY_ERROR_CODES } from '../../lib/money';
import { orderTotalCents, type OrderLineInput, type OrderStatus } from '../../lib/orders';
import { isUuid } from '../../lib/ids';
import { BULK_TRANSACTION } from '../../lib/db/transaction-options';
import { cursorCodec, pageLimit, toPage, type Page, type PageRequest } from '../../lib/paging';
import type { OrdersDb } from './db';
import type { Prisma } from './generated/client';
import { hasGonePast, statusesMovingTo } from './order-status';
import { MOVE_ORDER, RECORD_ORDER } from './order-steps.sql';

export interface CreateOrderInput {
  orderId: string;
  customerId: string;
  lines: OrderLineInput[];
  currency: string;
  idempotencyKey?: string;
  requestHash?: string;
}

export interface TransitionInput {
  orderId: string;
  to: OrderStatus;
  reason?: string;
  failureCode?: string;
  expiresAt?: Date;
}

export interface OrderView {
  id: string;
  customerId: string;
  status: OrderStatus;
  totalCents: number;
  currency: string;
  expiresAt: Date | null;
  failureCode: string | null;
  failureReason: string | null;
  idempotencyKey: string | null;
  requestHash: string | null;
  /** Money refunded after the sale (services/orders/refunds.ts). */
  refundedCents: number;
  createdAt: Date;
  updatedAt: Date;
  lines: OrderLineInput[];
  history: { from: OrderStatus | null; to: OrderStatus; reason: string | null; at: Date }[];
}

const withDetails = {
  lines: { orderBy: { sku: 'asc' as const } },
  history: { orderBy: { id: 'asc' as const } },
};

type OrderRow = NonNullable<Awaited<ReturnType<OrdersDb['order']['findUnique']>>> & {
  lines: { productId: string; sku: string; name: string; quantity: number; unitPriceCents: number }[];
  history: { fromStatus: OrderStatus | null; toStatus: OrderStatus; reason: string | null; at: Date }[];
};

function toView(row: OrderRow): OrderView {
  return {
    id: row.id,
    customerId: row.customerId,
    status: row.status,
    totalCents: row.totalCents,
    currency: row.currency,
    expiresAt: row.expiresAt,
    failureCode: row.failureCode,
    failureReason: row.failureReason,
    idempotencyKey: row.idempotencyKey,
    requestHash: row.requestHash,
    refundedCents: row.refundedCents,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    lines: row.lines.map(({ productId, sku, name, quantity, unitPriceCents }) => ({
      productId,
      sku,
      name,
      quantity,
      unitPriceCents,
    })),
    history: row.history.map((h) => ({ from: h.fromStatus, to: h.toStatus, reason: h.reason, at: h.at })),
  };
}

/** What a checkout step needs of an order: where it stands, without its lines and history. */
export interface OrderSummary {
  id: string;
  status: OrderStatus;
  totalCents: number;
  expiresAt: Date | null;
  failureCode: string | null;
  failureReason: string | null;
  /** Whether it was ever PAID: a paid order only goes forward, whatever happened after. */
  paidBefore: boolean;
}

interface SummaryRow {
  id: string;
  status: OrderStatus;
  total_cents: number;
  expires_at: Date | null;
  failure_code: string | null;
  failure_reason: string | null;
  paid_before: boolean;
}

function toSummary(row: SummaryRow): OrderSummary {
  return {
    id: row.id,
    status: row.status,
    totalCents: row.total_cents,
    expiresAt: row.expires_at,
    failureCode: row.failure_code,
    failureReason: row.failure_reason,
    paidBefore: row.paid_before,
  };
}

export interface OrderPageRequest extends PageRequest {
  /** Only this customer's orders; without it, every customer's (the admins' list). */
  customerId?: string;
  status?: OrderStatus;
}

/**
 * Orders page newest first by (createdAt, id): the time is set once at creation and the id breaks
 * ties, so the key is unique and never changes. An order created while a client pages lands
 * before its cursor and is on a first page read again, never in the middle of the walk.
 */
const orderCursor = cursorCodec(
  'o',
  (parts): parts is [string, string] =>
    parts.length === 2 &&
    typeof parts[0] === 'string' &&
    !Number.isNaN(Date.parse(parts[0])) &&
    typeof parts[1] === 'string' &&
    isUuid(parts[1]),
);

/** The one definition of an order's total is the contract's (the workflow computes it too). */
export const orderTotal = orderTotalCents;

export class OrdersService {
  constructor(private readonly db: OrdersDb) {}

  /** Creates the order in PENDING; a retry with the same id returns the order already created. */
  async create(input: CreateOrderInput): Promise<OrderView> {
    const { id } = await this.record(input);
    return (await this.get(id))!;
  }

  /**
   * Records the order in PENDING, or answers the one already recorded under its id (idempotent): one
   * statement (order-steps.sql.ts), the checkout's first write.
   */
  async record(input: CreateOrderInput): Promise<OrderSummary> {
    const totalCents = orderTotal(input.lines);
    // The API refuses such an order before it starts a workflow; this keeps any other caller from an int4 overflow that would retry forever.
    if (totalCents > MAX_ORDER_CENTS)
      throw new DomainError(
        MONEY_ERROR_CODES.orderTooLarge,
        `The order total ${totalCents} cents is above the maximum of ${MAX_ORDER_CENTS}`,
      );
    const { lines } = input;
    const values = [
      input.orderId,
      input.customerId,
      input.currency,
      totalCents,
      input.idempotencyKey ?? null,
      input.requestHash ?? null,
      lines.map((line) => line.productId),
      lines.map((line) => line.sku),
      lines.map((line) => line.name),
      lines.map((line) => line.quantity),
      lines.map((line) => line.unitPriceCents),
    ];
    // A second pass only when a concurrent first insert of the same id committed during the first (see RECORD_ORDER).
    for (let pass = 0; pass < 2; pass++) {
      let rows: SummaryRow[];
      try {
        ({ rows } = await this.db.sql.query<SummaryRow>(RECORD_ORDER, values));
      } catch (error) {
        if (!isUniqueViolation(error)) throw error;
        throw new Error(`Order ${input.orderId} was refused: its idempotency key belongs to another order`);
      }
      if (rows[0]) return toSummary(rows[0]);
    }
    throw new Error(`Order ${input.orderId} was neither recorded nor found`);
  }

  /**
   * Creates many orders in PENDING as create does for each, in one transaction of three statements:
   * all or none (an order id that exists refuses the lot: create is the idempotent one). For
   * seeding a long order history, where a transaction per order costs round trips rather than work.
   */
  async createMany(inputs: CreateOrderInput[]): Promise<void> {
    for (const input of inputs) {
      const totalCents = orderTotal(input.lines);
      if (totalCents > MAX_ORDER_CENTS)
        throw new DomainError(
          MONEY_ERROR_CODES.orderTooLarge,
          `The order total ${totalCents} cents is above the maximum of ${MAX_ORDER_CENTS}`,
        );
    }
    await this.db.$transaction(async (tx) => {
      await tx.order.createMany({
        data: inputs.map((input) => ({
          id: input.orderId,
          customerId: input.customerId,
          currency: input.currency,
          totalCents: orderTotal(input.lines),
          idempotencyKey: input.idempotencyKey ?? null,
          requestHash: input.requestHash ?? null,
        })),
      });
      await tx.orderLine.createMany({
        data: inputs.flatMap((input) => input.lines.map((line) => ({ orderId: input.orderId, ...line }))),
      });
      await tx.orderStatusChange.createMany({
        data: inputs.map((input) => ({ orderId: input.orderId, toStatus: 'PENDING' as const })),
      });
    }, BULK_TRANSACTION);
  }

  async get(orderId: string): Promise<OrderView | null> {
    const row = await this.db.order.findUnique({ where: { id: orderId }, include: withDetails });
    return row ? toView(row as OrderRow) : null;
  }

  async getForCustomer(customerId: string, orderId: string): Promise<OrderView | null> {
    const order = await this.get(orderId);
    return order && order.customerId === customerId ? order : null;
  }

  async findByIdempotencyKey(customerId: string, idempotencyKey: string): Promise<OrderView | null> {
    const row = await this.db.order.findUnique({
      where: { customerId_idempotencyKey: { customerId, idempotencyKey } },
      include: withDetails,
    });
    return row ? toView(row as OrderRow) : null;
  }

  /** The customer's newest orders (at most a page: MAX_PAGE_LIMIT); listPage walks them all. */
  async listForCustomer(customerId: string, limit?: number): Promise<OrderView[]> {
    return (await this.listPage({ customerId, limit })).items;
  }

  /** One page of orders, newest first: one customer's or everyone's, of one status or any. */
  async listPage(request: OrderPageRequest = {}): Promise<Page<OrderView>> {
    const limit = pageLimit(request.limit);
    const where: Prisma.OrderWhereInput = {};
    if (request.customerId !== undefined) where.customerId = request.customerId;
    if (request.status !== undefined) where.status = request.status;
    if (request.cursor !== undefined) {
      const [at, id] = orderCursor.decode(request.cursor);
      const createdAt = new Date(at);
      // (createdAt, id) < the cursor's, written so that the index on created_at bounds the scan.
      where.createdAt = { lte: createdAt };
      where.OR = [{ createdAt: { lt: createdAt } }, { id: { lt: id } }];
    }
    const rows = await this.db.order.findMany({
      where,
      include: withDetails,
      orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
      take: limit + 1,
    });
    return toPage(
      rows,
      limit,
      orderCursor,
      (row) => [row.createdAt.toISOString(), row.id],
      (row) => toView(row as OrderRow),
    );
  }

  /** How many orders are in each status (the API's `storefront_orders` gauge). */
  async countByStatus(): Promise<Partial<Record<OrderStatus, number>>> {
    const groups = await this.db.order.groupBy({ by: ['status'], _count: { _all: true } });
    return Object.fromEntries(groups.map((group) => [group.status, group._count._all]));
  }

  /**
   * Moves the order to `to` if the status machine allows it, and answers it whole. Idempotent: an
   * order already in `to` (or past it) is returned unchanged.
   */
  async transition(input: TransitionInput): Promise<OrderView> {
    const { id } = await this.move(input);
    return (await this.get(id))!;
  }

  /**
   * Moves the order to `to` in one statement (order-steps.sql.ts) and answers its summary: the
   * checkout's status writes. The update is conditional on the status under the row's lock, so a
   * concurrent change is never overwritten. An order already in `to`, or gone past it, is answered
   * unchanged; any other refusal is INVALID_TRANSITION.
   */
  async move(input: TransitionInput): Promise<OrderSummary> {
    const { rows } = await this.db.sql.query<SummaryRow & { moved: boolean }>(MOVE_ORDER, [
      input.orderId,
      input.to,
      input.expiresAt ?? null,
      input.failureCode ?? null,
      input.reason ?? null,
      statusesMovingTo(input.to),
    ]);
    const row = rows[0];
    if (!row) throw new DomainError('ORDER_NOT_FOUND', `No order ${input.orderId}`);
    if (row.moved || row.status === input.to || hasGonePast(row.status, input.to)) return toSummary(row);
    throw new DomainError('INVALID_TRANSITION', `Order ${input.orderId} cannot go from ${row.status} to ${input.to}`, {
      from: row.status,
      to: input.to,
    });
  }
}
