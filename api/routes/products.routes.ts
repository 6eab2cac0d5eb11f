/** The catalogue: anyone reads it, signed in or not; admins add products and edit them with optimistic `version`. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { DomainError } from '../../lib/errors';
import type { InventoryService } from '../../services/inventory/inventory.service';
import { Cents, Currency, errors, IdParams, Product } from '../schemas';

export interface ProductRoutesOptions {
  inventory: InventoryService;
}

const NewProduct = Type.Object(
  {
    sku: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$' }),
    name: Type.String({ minLength: 1, maxLength: 200 }),
    priceCents: Cents,
    currency: Type.Optional(Currency),
    available: Type.Integer({ minimum: 0, maximum: 1_000_000 }),
  },
  { additionalProperties: false },
);
const ProductChanges = Type.Object(
  {
    version: Type.Integer({ minimum: 1 }),
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    priceCents: Type.Optional(Cents),
    available: Type.Optional(Type.Integer({ minimum: 0, maximum: 1_000_000 })),
  },
  { additionalProperties: false },
);

export const productRoutes: FastifyPluginAsyncTypebox<ProductRoutesOptions> = async (app, { inventory }) => {
  app.get(
    '/v1/products',
    {
      schema: {
        tags: ['products'],
        response: { 200: Type.Object({ items: Type.Array(Product) }) },
      },
    },
    async () => ({ items: await inventory.listProducts() }),
  );

  app.get(
    '/v1/products/:id',
    {
      schema: {
        tags: ['products'],
        params: IdParams,
        response: { 200: Product, ...errors(400, 404) },
      },
    },
    async (request) => {
      const product = await inventory.getProduct(request.params.id);
      if (!product) throw new DomainError('PRODUCT_NOT_FOUND', `No product ${request.params.id}`);
      return product;
    },
  );

  app.post(
    '/v1/products',
    { preHandler: app.requireAdmin, schema: { tags: ['products'], body: NewProduct, response: { 201: Product, ...errors(400, 401, 403, 409) } } },
    async (request, reply) => reply.code(201).send(await inventory.createProduct(request.body)),
  );

  app.patch(
    '/v1/products/:id',
    {
      preHandler: app.requireAdmin,
      schema: { tags: ['products'], params: IdParams, body: ProductChanges, response: { 200: Product, ...errors(400, 401, 403, 404, 409) } },
    },
    async (request) => inventory.updateProduct(request.params.id, request.body),
  );
};
