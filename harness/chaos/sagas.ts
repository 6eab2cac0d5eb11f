/**
 * Drives checkout sagas through the Temporal client the way the storefront API will: start the
 * workflow, wait until the order awaits payment, pay or cancel with an update, and wait until the
 * saga settles. Every call survives a dead worker or a restarting server by retrying the same
 * request (the same update id), and every wait is on a real condition with a deadline.
 */
import { WorkflowNotFoundError, WorkflowUpdateFailedError, type Client, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure, WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { randomUUID } from 'node:crypto';
import { DomainError } from '../../lib/errors';
import { checkoutStartOptions } from '../../temporal/checkout-client';
import { RefundClient, refundIdFor, requestRefund } from '../../temporal/refund-client';
import type { Services } from '../../services';
import { checkoutWorkflow } from '../../workflows/checkout/checkout.workflow';
import {
  cancelUpdate,
  ORDER_STATUS_KEY,
  orderWorkflowId,
  payUpdate,
  refundStateQuery,
  refundWorkflowId,
  type CheckoutInput,
  type CheckoutState,
  type OrderLineInput,
  type OrderStatus,
  type RefundLine,
  type RefundState,
} from '../../workflows/contract';
import type { Boundary } from './boundaries';

/**
 * `declined-then-cancel`: the first payment is declined (the chaos Stripe proxy declines
 * CHAOS_DECLINING_METHOD), then the customer cancels. The charge attempt is what makes the unwind
 * ask Stripe (refundPayment cancels the intent): an order never charged makes no Stripe request as it unwinds.
 */
export type SagaPlan = 'pay' | 'cancel' | 'declined-then-cancel' | 'expire';

/** The payment method the chaos Stripe proxy answers with a card decline. */
export const CHAOS_DECLINING_METHOD = 'pm_card_chargeDeclinedInsufficientFunds';

export interface Saga {
  scenario: string;
  orderId: string;
  customerId: string;
  lines: OrderLineInput[];
  ttlSeconds: number;
  plan: SagaPlan;
  /** Final statuses that the plan can lead to (others are reported as surprises, not violations). */
  expected: OrderStatus[];
  boundary?: Boundary;
  /** What the driver saw, for the report. */
  events: string[];
  final?: SagaOutcome;
  /** Refunds asked for once the order completed, oldest first. */
  refunds: SagaRefund[];
}

/** A refund after the sale as the admin asks for it: lines, an amount, or (neither) everything left. */
export interface RefundAsk {
  lines?: RefundLine[];
  amountCents?: number;
  restock: boolean;
}

export interface SagaRefund {
  ask: RefundAsk;
  idempotencyKey: string;
  /** The refund id the store derives from the order and the key. */
  refundId: string;
  /** The store's answer: the refund's status (SUCCEEDED, FAILED, PENDING) or `refused:<code>`. */
  answer?: string;
  /** How the refund saga ended: its workflow's status and state (none when the request was refused before it started). */
  final?: { execution: string; state?: RefundState };
}

/** The store's refusals of a refund request: an answer, not something to retry. */
const REFUND_REFUSALS: readonly string[] = [
  'REFUND_EXCEEDS_PAYMENT',
  'ORDER_NOT_REFUNDABLE',
  'IDEMPOTENCY_KEY_REUSED',
  'VALIDATION_FAILED',
  'ORDER_NOT_FOUND',
];

export interface SagaOutcome {
  /** RUNNING (parked in NEEDS_ATTENTION, or stuck), COMPLETED, FAILED, TERMINATED... */
  execution: string;
  orderStatus: string | undefined;
  state?: CheckoutState;
}

export interface CatalogProduct {
  id: string;
  sku: string;
  name: string;
  priceCents: number;
  initial: number;
}

export interface Catalog {
  /** Plenty of stock: the orders that use only these are never refused for stock. */
  plentiful: CatalogProduct[];
  /** A few units that concurrent orders fight over: some are REJECTED with OUT_OF_STOCK. */
  scarce: CatalogProduct;
  all: CatalogProduct[];
}

const TRANSIENT_RETRY_MS = 300;

/** A small seeded generator, so a run's mix of orders can be reproduced. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export async function createCatalog(services: Services, tag: string): Promise<Catalog> {
  const plentiful: CatalogProduct[] = [];
  for (let i = 0; i < 4; i += 1) {
    const product = await services.inventory.createProduct({
      sku: `CHAOS-${tag}-${i}`,
      name: `Chaos product ${i}`,
      priceCents: 500 + i * 250,
      available: 100_000,
    });
    plentiful.push({
      id: product.id,
      sku: product.sku,
      name: product.name,
      priceCents: product.priceCents,
      initial: 100_000,
    });
  }
  const scarceProduct = await services.inventory.createProduct({
    sku: `CHAOS-${tag}-SCARCE`,
    name: 'Chaos scarce product',
    priceCents: 4_200,
    available: 6,
  });
  const scarce = {
    id: scarceProduct.id,
    sku: scarceProduct.sku,
    name: scarceProduct.name,
    priceCents: scarceProduct.priceCents,
    initial: 6,
  };
  return { plentiful, scarce, all: [...plentiful, scarce] };
}

export interface NewSaga {
  scenario: string;
  customerId: string;
  plan: SagaPlan;
  /** Include a line of the scarce product (the order may then be REJECTED for stock). */
  scarce?: boolean;
  ttlSeconds?: number;
  boundary?: Boundary;
}

export class SagaDriver {
  readonly sagas: Saga[] = [];
  /** Initial cart quantity per customer and product, for the cart invariant. */
  readonly carts = new Map<string, Map<string, number>>();

  private readonly refundClient: RefundClient;

  constructor(
    private readonly client: Client,
    private readonly services: Services,
    readonly catalog: Catalog,
    private readonly random: () => number,
  ) {
    this.refundClient = new RefundClient(client);
  }

  plan(input: NewSaga): Saga {
    const pick = this.catalog.plentiful;
    const first = pick[Math.floor(this.random() * pick.length)]!;
    const lines: OrderLineInput[] = [line(first, 1 + Math.floor(this.random() * 3))];
    if (this.random() < 0.4) {
      const second = pick.find((p) => p.id !== first.id && this.random() < 0.5) ?? pick.find((p) => p.id !== first.id)!;
      lines.push(line(second, 1 + Math.floor(this.random() * 2)));
    }
    if (input.scarce) lines.push(line(this.catalog.scarce, 1 + Math.floor(this.random() * 2)));
    const expected: OrderStatus[] =
      input.plan === 'pay' ? ['COMPLETED'] : input.plan === 'expire' ? ['EXPIRED'] : ['CANCELLED'];
    if (input.scarce) expected.push('REJECTED');
    const saga: Saga = {
      scenario: input.scenario,
      orderId: randomUUID(),
      customerId: input.customerId,
      lines,
      ttlSeconds: input.ttlSeconds ?? (input.plan === 'expire' ? 4 : 600),
      plan: input.plan,
      expected,
      boundary: input.boundary,
      events: [],
      refunds: [],
    };
    this.sagas.push(saga);
    return saga;
  }

  /**
   * Fills the customers' carts with what their planned orders buy, plus one spare unit of each,
   * so that clearing a paid order's lines shows exactly once in the cart. Call before starting them.
   */
  async fillCarts(sagas: readonly Saga[]): Promise<void> {
    const wanted = new Map<string, Map<string, number>>();
    for (const saga of sagas) {
      const cart = wanted.get(saga.customerId) ?? new Map<string, number>();
      wanted.set(saga.customerId, cart);
      for (const l of saga.lines) cart.set(l.productId, (cart.get(l.productId) ?? 1) + l.quantity);
    }
    for (const [customerId, items] of wanted) {
      if (this.carts.has(customerId))
        throw new Error(`Customer ${customerId} already has a cart in this run: use a new customer per scenario`);
      this.carts.set(customerId, items);
      for (const [productId, quantity] of items) {
        const product = this.catalog.all.find((p) => p.id === productId)!;
        await this.services.cart.setItem(customerId, { productId, quantity, priceCents: product.priceCents });
      }
    }
  }

  handle(saga: Saga): WorkflowHandle<typeof checkoutWorkflow> {
    return this.client.workflow.getHandle<typeof checkoutWorkflow>(orderWorkflowId(saga.orderId));
  }

  /** Starts the saga's workflow; a start whose answer was lost is retried and found already started. */
  async start(saga: Saga, deadline: number): Promise<void> {
    await this.retrying(`start ${saga.orderId}`, deadline, async () => {
      try {
        await this.client.workflow.start(checkoutWorkflow, checkoutStartOptions(checkoutInput(saga)));
        saga.events.push('started');
      } catch (error) {
        if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
        saga.events.push('start retried: already started');
      }
      return true;
    });
  }

  /** The order's status as its workflow shows it (the OrderStatus search attribute), and whether the workflow still runs. */
  async describe(saga: Saga): Promise<SagaOutcome | undefined> {
    try {
      const description = await this.handle(saga).describe();
      return {
        execution: description.status.name,
        orderStatus: description.typedSearchAttributes.get(ORDER_STATUS_KEY),
      };
    } catch {
      return undefined; // the server is restarting: ask again
    }
  }

  /** Waits until the order has left PENDING (it awaits payment, or was refused). */
  async placed(saga: Saga, deadline: number): Promise<SagaOutcome> {
    for (;;) {
      const seen = await this.describe(saga);
      if (seen && (seen.execution !== 'RUNNING' || (seen.orderStatus && seen.orderStatus !== 'PENDING'))) return seen;
      if (Date.now() > deadline)
        throw new Error(`order ${saga.orderId} was not placed before the deadline (last seen ${JSON.stringify(seen)})`);
      await delay(250);
    }
  }

  /**
   * Pays with an update; a transport failure retries the same update id, which Temporal
   * deduplicates. Returns 'completed' (the update returned the settled order) or the refusal code.
   */
  async pay(
    saga: Saga,
    deadline: number,
    updateId = `pay-${saga.orderId}`,
    paymentMethod = 'pm_card_visa',
  ): Promise<string> {
    return this.update(saga, deadline, updateId, () =>
      this.handle(saga).executeUpdate(payUpdate, { args: [{ paymentMethod, customerId: saga.customerId }], updateId }),
    );
  }

  async cancel(saga: Saga, deadline: number, updateId = `cancel-${saga.orderId}`): Promise<string> {
    return this.update(saga, deadline, updateId, () =>
      this.handle(saga).executeUpdate(cancelUpdate, {
        args: [{ reason: 'chaos: cancelled by the customer' }],
        updateId,
      }),
    );
  }

  /** Places the order, then pays, cancels or lets it expire as planned (does not wait for the end). */
  async drive(saga: Saga, deadline: number): Promise<void> {
    await this.place(saga, deadline);
    await this.act(saga, deadline);
  }

  /** Starts the saga and waits until its order is placed. */
  async place(saga: Saga, deadline: number): Promise<SagaOutcome> {
    await this.start(saga, deadline);
    return this.placed(saga, deadline);
  }

  /** Pays or cancels a placed order as planned; an order that does not await payment is left alone. */
  async act(saga: Saga, deadline: number): Promise<void> {
    const placed = await this.placed(saga, deadline);
    if (placed.execution !== 'RUNNING' || placed.orderStatus !== 'AWAITING_PAYMENT') return;
    if (saga.plan === 'pay') await this.pay(saga, deadline);
    else if (saga.plan === 'cancel') await this.cancel(saga, deadline);
    else if (saga.plan === 'declined-then-cancel') {
      await this.pay(saga, deadline, `pay-declined-${saga.orderId}`, CHAOS_DECLINING_METHOD);
      await this.cancel(saga, deadline);
    }
  }

  /** Places and pays the order, and waits until its saga has ended (COMPLETED, for a refund to follow). */
  async complete(saga: Saga, deadline: number): Promise<string> {
    await this.drive(saga, deadline);
    await this.settle([saga], deadline);
    return finalStatus(saga);
  }

  /**
   * Asks for a refund of the saga's order as the storefront's admin route does (requestRefund,
   * the same Idempotency-Key on every try), and returns the store's answer: the refund's status
   * once its money is settled, or `refused:<code>`. A try that meets a dead worker or a restarting
   * server (the update's deadline passes) is sent again with the same key.
   */
  async refund(saga: Saga, ask: RefundAsk, deadline: number, idempotencyKey: string = randomUUID()): Promise<string> {
    const refund: SagaRefund = { ask, idempotencyKey, refundId: refundIdFor(saga.orderId, idempotencyKey) };
    saga.refunds.push(refund);
    const deps = { orders: this.services.orders, refunds: this.services.refunds, client: this.refundClient };
    await this.retrying(`refund ${refund.refundId}`, deadline, async () => {
      try {
        const { refund: made } = await requestRefund(deps, {
          orderId: saga.orderId,
          idempotencyKey,
          ...ask,
          reason: 'chaos: refunded by the admin',
          requestedBy: 'chaos-admin',
        });
        refund.answer = made.status;
      } catch (error) {
        if (!(error instanceof DomainError) || !REFUND_REFUSALS.includes(error.code)) throw error;
        refund.answer = `refused:${error.code}`;
      }
      return true;
    });
    saga.events.push(`refund ${refund.refundId.slice(0, 8)} → ${refund.answer}`);
    return refund.answer!;
  }

  /**
   * Waits until every refund saga of these sagas has ended or waits for an operator, and records
   * how each ended; one refused before it started has no workflow.
   */
  async settleRefunds(sagas: readonly Saga[], deadline: number): Promise<void> {
    const open = new Set(sagas.flatMap((saga) => saga.refunds).filter((r) => r.final?.execution !== 'COMPLETED'));
    for (;;) {
      for (const refund of [...open]) {
        const handle = this.client.workflow.getHandle(refundWorkflowId(refund.refundId));
        try {
          const description = await handle.describe();
          const execution = description.status.name;
          if (execution === 'RUNNING') {
            const state = await handle.query(refundStateQuery).catch(() => undefined);
            refund.final = { execution, state };
            if (!state?.needsAttention) continue;
          } else {
            const state = (await handle.result().catch(() => undefined)) as RefundState | undefined;
            refund.final = { execution, state };
          }
          open.delete(refund);
        } catch (error) {
          if (!(error instanceof WorkflowNotFoundError)) continue; // the server is restarting: ask again
          refund.final = { execution: 'NONE' };
          open.delete(refund);
        }
      }
      if (open.size === 0 || Date.now() > deadline) return;
      await delay(500);
    }
  }

  /**
   * Waits until every saga has closed or is parked in NEEDS_ATTENTION, and records how each
   * ended; those still running at the deadline are recorded as they are (the stuck check reports them).
   */
  async settle(sagas: readonly Saga[], deadline: number): Promise<void> {
    const open = new Set(sagas.filter((saga) => !saga.final || saga.final.execution === 'RUNNING'));
    for (;;) {
      for (const saga of [...open]) {
        const seen = await this.describe(saga);
        if (!seen) continue;
        saga.final = seen;
        if (seen.execution === 'RUNNING' && seen.orderStatus !== 'NEEDS_ATTENTION') continue;
        open.delete(saga);
        if (seen.execution === 'COMPLETED') {
          saga.final.state = await this.handle(saga)
            .result()
            .catch(() => undefined);
        }
      }
      if (open.size === 0 || Date.now() > deadline) return;
      await delay(500);
    }
  }

  private async update(
    saga: Saga,
    deadline: number,
    updateId: string,
    send: () => Promise<CheckoutState>,
  ): Promise<string> {
    let outcome = 'gave up';
    await this.retrying(`${updateId}`, deadline, async () => {
      try {
        const state = await send();
        outcome = `completed:${state.status}`;
      } catch (error) {
        const refusal = refusalOf(error);
        if (!refusal) throw error;
        outcome = refusal;
      }
      return true;
    });
    saga.events.push(`${updateId.split('-')[0]} → ${outcome}`);
    return outcome;
  }

  /** Runs `attempt` until it succeeds; transport errors (a dead worker, a restarting server) retry until the deadline. */
  private async retrying(what: string, deadline: number, attempt: () => Promise<boolean>): Promise<void> {
    let lastError: unknown;
    while (Date.now() <= deadline) {
      try {
        if (await attempt()) return;
      } catch (error) {
        lastError = error;
      }
      await delay(TRANSIENT_RETRY_MS);
    }
    throw new Error(`${what}: gave up at the deadline (${(lastError as Error | undefined)?.message ?? 'no answer'})`);
  }
}

/** The code of a business answer to an update (refused by the validator or failed by the handler), or of a closed workflow. */
export function refusalOf(error: unknown): string | undefined {
  if (error instanceof WorkflowUpdateFailedError) {
    const cause = error.cause;
    if (cause instanceof ApplicationFailure) return `refused:${cause.type ?? 'FAILED'}`;
    return `failed:${cause?.message ?? error.message}`;
  }
  if (error instanceof WorkflowNotFoundError) return 'closed';
  const message = (error as Error | undefined)?.message ?? '';
  if (/workflow execution already completed/i.test(message)) return 'closed';
  return undefined;
}

/** How the saga ended, as the report shows it: the workflow's final status, NEEDS_ATTENTION, or STUCK(<status>). */
export function finalStatus(saga: Saga): string {
  if (!saga.final) return 'UNKNOWN';
  if (saga.final.execution === 'RUNNING' && saga.final.orderStatus !== 'NEEDS_ATTENTION')
    return `STUCK(${saga.final.orderStatus ?? '?'})`;
  return saga.final.state?.status ?? saga.final.orderStatus ?? saga.final.execution;
}

export function checkoutInput(saga: Saga): CheckoutInput {
  return {
    orderId: saga.orderId,
    customerId: saga.customerId,
    lines: saga.lines,
    currency: 'usd',
    ttlSeconds: saga.ttlSeconds,
  };
}

function line(product: CatalogProduct, quantity: number): OrderLineInput {
  return { productId: product.id, sku: product.sku, name: product.name, quantity, unitPriceCents: product.priceCents };
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
