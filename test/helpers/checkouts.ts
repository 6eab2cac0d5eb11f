/**
 * Checkouts the tests start on the workflow directly (one product, a new customer each time), and
 * how they watch one: polling its state query, reading the code an update was refused with.
 */
import { ApplicationFailure } from '@temporalio/common';
import { WorkflowNotFoundError, WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { waitUntil } from '../../devstack/waits';
import type { InventoryService, ProductView } from '../../services/inventory/inventory.service';
import { checkoutStateQuery, type CheckoutInput, type CheckoutState, type OrderStatus } from '../../workflows/contract';

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

/**
 * Polls the checkout's own state (its query) until it has `wanted` (a status, or a test of the
 * state) and answers with that state; on timeout fails naming the last state seen.
 */
export async function reach(
  handle: Pick<WorkflowHandle, 'workflowId' | 'query'>,
  wanted: OrderStatus | ((state: CheckoutState) => boolean),
  timeoutMs = 30_000,
): Promise<CheckoutState> {
  const done = typeof wanted === 'string' ? (state: CheckoutState) => state.status === wanted : wanted;
  let last: CheckoutState | undefined;
  let lastError: unknown;
  const query = () =>
    handle.query(checkoutStateQuery).then(
      (state) => done((last = state)),
      (error: unknown) => ((lastError = error), false),
    );
  try {
    await waitUntil(
      `order ${handle.workflowId} to reach ${typeof wanted === 'string' ? wanted : 'the state awaited'}`,
      query,
      {
        timeoutMs,
        intervalMs: 50,
      },
    );
  } catch (error) {
    const seen = last ? `its last state: ${JSON.stringify(last)}` : `its query failed: ${String(lastError)}`;
    throw new Error(`${(error as Error).message}; ${seen}`);
  }
  return last!;
}

/**
 * The code an update was refused with (its ApplicationFailure's type); a workflow that has
 * closed refuses every update, answered as WORKFLOW_CLOSED.
 */
export async function refusal(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (error instanceof WorkflowNotFoundError) return 'WORKFLOW_CLOSED';
  expect(error).toBeInstanceOf(WorkflowUpdateFailedError);
  const cause = (error as WorkflowUpdateFailedError).cause;
  expect(cause).toBeInstanceOf(ApplicationFailure);
  return (cause as ApplicationFailure).type ?? 'UNKNOWN';
}
