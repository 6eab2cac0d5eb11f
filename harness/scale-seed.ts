/**
 * A real shop's size, seeded through the services as the shop itself would fill them: products by
 * InventoryService.createProduct (each with its opening stock in the stock ledger), orders by
 * OrdersService.create with their stock reserved by InventoryService.reserve. Never rows written
 * straight into tables, so the data keeps every invariant the reconciler checks. Used by the
 * paging tests, the dashboard's browser test and the scale-data benchmark.
 */
import { randomUUID } from 'node:crypto';
import type { InventoryService, ProductView } from '../services/inventory/inventory.service';
import type { OrdersService, OrderView } from '../services/orders/orders.service';

/** Calls at once against a service: enough to keep PostgreSQL busy, few enough for a 2-core machine. */
const DEFAULT_CONCURRENCY = 4;

/** Runs `task(0..count-1)` with at most `concurrency` in flight, answering the results in index order. */
export async function inBatches<T>(
  count: number,
  task: (index: number) => Promise<T>,
  concurrency = DEFAULT_CONCURRENCY,
): Promise<T[]> {
  const results = new Array<T>(count);
  let next = 0;
  const worker = async () => {
    for (let index = next++; index < count; index = next++) results[index] = await task(index);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return results;
}

/** Words the seeded names are made of, so that searches find some products and not others. */
const WORDS = ['oak', 'walnut', 'steel', 'linen', 'wool', 'glass', 'cedar', 'brass', 'maple', 'slate'];
const THINGS = ['desk', 'chair', 'lamp', 'shelf', 'table', 'stool', 'rug', 'bench', 'mirror', 'cabinet'];

/** The name of the `index`th seeded product: "Oak desk 0042", two words from the lists and a number. */
export function seededProductName(index: number): string {
  const word = WORDS[index % WORDS.length]!;
  const thing = THINGS[Math.floor(index / WORDS.length) % THINGS.length]!;
  return `${word[0]!.toUpperCase()}${word.slice(1)} ${thing} ${String(index).padStart(6, '0')}`;
}

export interface SeedCatalogueOptions {
  count: number;
  /** The first index (default 0): a catalogue grows by seeding again from where it stopped. */
  start?: number;
  /** SKUs are `<prefix>-<index, zero-padded>`: unique per seeding, in the catalogue's order. */
  prefix?: string;
  /** Units of each product; every tenth product is sold out (0) so availability filters have work to do. */
  available?: number;
  priceCents?: number;
  concurrency?: number;
  /**
   * Products per call of InventoryService.createProducts (one transaction each); without it, one
   * createProduct call per product. The benchmark's large sizes take 500: a transaction per
   * product is round trips, and on a loaded machine each round trip waits for the CPU.
   */
  batch?: number;
}

/** `count` items in chunks of `size`: each chunk's indexes handed to `task`, chunks in order, one at a time. */
async function inChunks<T>(count: number, size: number, task: (indexes: number[]) => Promise<T[]>): Promise<T[]> {
  const results: T[] = [];
  for (let first = 0; first < count; first += size) {
    const indexes = Array.from({ length: Math.min(size, count - first) }, (_, offset) => first + offset);
    results.push(...(await task(indexes)));
  }
  return results;
}

export async function seedCatalogue(
  inventory: InventoryService,
  options: SeedCatalogueOptions,
): Promise<ProductView[]> {
  const prefix = options.prefix ?? `SCALE-${randomUUID().slice(0, 6).toUpperCase()}`;
  const start = options.start ?? 0;
  const product = (offset: number) => {
    const index = start + offset;
    return {
      sku: `${prefix}-${String(index).padStart(6, '0')}`,
      name: seededProductName(index),
      priceCents: options.priceCents ?? 1_000 + (index % 97) * 25,
      available: index % 10 === 9 ? 0 : (options.available ?? 1_000),
    };
  };
  if (options.batch)
    return inChunks(options.count, options.batch, (offsets) => inventory.createProducts(offsets.map(product)));
  return inBatches(options.count, (offset) => inventory.createProduct(product(offset)), options.concurrency);
}

export interface SeedOrdersOptions {
  customerId: string;
  count: number;
  /** Products with units available; order i takes one unit of products[i % length]. */
  products: ProductView[];
  concurrency?: number;
  /**
   * Orders per call of OrdersService.createMany and InventoryService.reserveMany (a transaction
   * each, the orders first); without it, one create and one reserve per order. Batched orders
   * share their transaction's creation time (the lists break the tie by id); none is returned.
   */
  batch?: number;
}

/** One order: created PENDING by the orders service, its unit reserved by the inventory service. */
export async function seedOrder(
  services: { orders: OrdersService; inventory: InventoryService },
  customerId: string,
  product: ProductView,
): Promise<OrderView> {
  const orderId = randomUUID();
  const order = await services.orders.create({
    orderId,
    customerId,
    currency: product.currency,
    lines: [
      { productId: product.id, sku: product.sku, name: product.name, quantity: 1, unitPriceCents: product.priceCents },
    ],
  });
  await services.inventory.reserve({ orderId, lines: [{ productId: product.id, quantity: 1 }] });
  return order;
}

export async function seedOrders(
  services: { orders: OrdersService; inventory: InventoryService },
  options: SeedOrdersOptions,
): Promise<OrderView[]> {
  const products = options.products.filter((product) => product.available > 0);
  if (products.length === 0) throw new Error('seedOrders needs products with units available');
  if (options.batch) {
    await inChunks(options.count, options.batch, async (indexes) => {
      const orders = indexes.map((index) => {
        const product = products[index % products.length]!;
        const line = { productId: product.id, sku: product.sku, name: product.name, quantity: 1 };
        return { orderId: randomUUID(), product, line: { ...line, unitPriceCents: product.priceCents } };
      });
      await services.orders.createMany(
        orders.map(({ orderId, product, line }) => ({
          orderId,
          customerId: options.customerId,
          currency: product.currency,
          lines: [line],
        })),
      );
      await services.inventory.reserveMany(
        orders.map(({ orderId, line }) => ({ orderId, lines: [{ productId: line.productId, quantity: 1 }] })),
      );
      return [];
    });
    return [];
  }
  return inBatches(
    options.count,
    (index) => seedOrder(services, options.customerId, products[index % products.length]!),
    options.concurrency,
  );
}
