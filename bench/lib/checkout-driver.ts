/**
 * Drives checkouts through Temporal as the storefront does: place with update-with-start (the
 * `placed` update answers once stock is reserved), then pay with the `pay` update (answers
 * once the order is COMPLETED). The real saga and the baseline are driven the same way.
 */
import { WithStartWorkflowOperation, type Client } from '@temporalio/client';
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { checkoutStartOptions } from '../../temporal/checkout-client';
import type { ProductView } from '../../services/inventory/inventory.service';
import { payUpdate, placedUpdate, type CheckoutInput, type CheckoutState } from '../../workflows/contract';

export type Variant = 'saga' | 'baseline';
/** What can be placed: a whole checkout's variants, and the placement's own floor (bench/workflows/placement-shape.workflow.ts). */
export type PlacementVariant = Variant | 'shape';

const WORKFLOW_TYPES: Record<PlacementVariant, string> = {
  saga: 'checkoutWorkflow',
  baseline: 'baselineCheckoutWorkflow',
  shape: 'placementShapeWorkflow',
};
const WORKFLOW_ID_PREFIXES: Record<Exclude<PlacementVariant, 'saga'>, string> = {
  baseline: 'bench-baseline',
  shape: 'bench-placement-shape',
};

export function checkoutInput(customerId: string, product: ProductView, ttlSeconds = 600): CheckoutInput {
  return {
    orderId: randomUUID(),
    customerId,
    currency: 'usd',
    ttlSeconds,
    lines: [
      { productId: product.id, sku: product.sku, name: product.name, quantity: 1, unitPriceCents: product.priceCents },
    ],
  };
}

export function workflowIdOf(variant: PlacementVariant, input: CheckoutInput): string {
  const options = checkoutStartOptions(input);
  return variant === 'saga' ? options.workflowId : `${WORKFLOW_ID_PREFIXES[variant]}-${input.orderId}`;
}

/** The server ends an update's long poll after about a minute; on a saturated machine a placement can take longer. */
const isDeadlineExceeded = (error: unknown) => error instanceof Error && /deadline exceeded/i.test(error.message);
const MAX_ATTEMPTS = 3;

/**
 * Starts the order's workflow and waits until it is placed (awaiting payment) or refused.
 * Asking again after a deadline joins the same workflow (USE_EXISTING), like a client retrying.
 */
export async function place(client: Client, variant: PlacementVariant, input: CheckoutInput): Promise<CheckoutState> {
  const options = checkoutStartOptions(input);
  for (let attempt = 1; ; attempt++) {
    try {
      return (await client.workflow.executeUpdateWithStart(placedUpdate, {
        startWorkflowOperation: new WithStartWorkflowOperation(WORKFLOW_TYPES[variant], {
          ...options,
          workflowId: workflowIdOf(variant, input),
          workflowIdConflictPolicy: 'USE_EXISTING',
        }),
      })) as CheckoutState;
    } catch (error) {
      if (!isDeadlineExceeded(error) || attempt >= MAX_ATTEMPTS) throw error;
    }
  }
}

/** Pays; if the answer is lost to a deadline, the workflow's result tells how the order ended (a second pay would be refused). */
export async function pay(
  client: Client,
  variant: Variant,
  input: CheckoutInput,
  paymentMethod = 'pm_card_visa',
): Promise<CheckoutState> {
  const handle = client.workflow.getHandle(workflowIdOf(variant, input));
  try {
    return await handle.executeUpdate(payUpdate, { args: [{ paymentMethod, customerId: input.customerId }] });
  } catch (error) {
    if (!isDeadlineExceeded(error)) throw error;
    return (await handle.result()) as CheckoutState;
  }
}

export interface CheckoutTiming {
  placeMs: number;
  payMs: number;
  status: string;
}

/** One whole checkout; throws unless it ends COMPLETED. */
export async function checkout(client: Client, variant: Variant, input: CheckoutInput): Promise<CheckoutTiming> {
  const begun = performance.now();
  const placed = await place(client, variant, input);
  const placedAt = performance.now();
  if (placed.status !== 'AWAITING_PAYMENT')
    throw new Error(`order ${input.orderId} was not placed: ${placed.status} ${placed.failure?.code ?? ''}`);
  const paid = await pay(client, variant, input);
  const paidAt = performance.now();
  // The real checkout answers once the money is settled (PAID); the baseline workflow after its last step.
  if (paid.status !== 'PAID' && paid.status !== 'COMPLETED')
    throw new Error(`order ${input.orderId} ended ${paid.status} ${paid.failure?.code ?? ''}`);
  return { placeMs: placedAt - begun, payMs: paidAt - placedAt, status: paid.status };
}

export interface LoopResult<T> {
  results: T[];
  errors: string[];
  /** From the first start to the last completion, in seconds. */
  elapsedS: number;
}

/**
 * `concurrency` loops, each running `one` again and again until `durationMs` has passed; the
 * loops then finish what they started. A closed loop: the load adapts to what the system
 * sustains, so completions per second is its throughput.
 */
export async function closedLoop<T>(
  concurrency: number,
  durationMs: number,
  one: (loop: number, iteration: number) => Promise<T>,
): Promise<LoopResult<T>> {
  const results: T[] = [];
  const errors: string[] = [];
  const begun = performance.now();
  const deadline = begun + durationMs;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, loop) => {
      for (let iteration = 0; performance.now() < deadline; iteration++) {
        try {
          results.push(await one(loop, iteration));
        } catch (error) {
          errors.push(error instanceof Error ? error.message : String(error));
        }
      }
    }),
  );
  return { results, errors, elapsedS: (performance.now() - begun) / 1000 };
}

/** Products with stock that no benchmark runs out of, spread so that reservations do not all queue on one row. */
export async function createBenchProducts(
  inventory: {
    createProduct(input: { sku: string; name: string; priceCents: number; available: number }): Promise<ProductView>;
  },
  label: string,
  count: number,
  available = 1_000_000_000,
): Promise<ProductView[]> {
  const products: ProductView[] = [];
  for (let i = 0; i < count; i++) {
    products.push(
      await inventory.createProduct({
        sku: `BENCH-${label}-${i}`,
        name: `Bench product ${i}`,
        priceCents: 1_000 + i,
        available,
      }),
    );
  }
  return products;
}
