/**
 * The catalogue: anyone reads it, signed in or not; admins add products, edit name and price with
 * optimistic `version`, and change stock only by delta (POST /v1/products/:id/stock), which can
 * never give reserved units back (docs/hostile-input.md).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import { Type } from 'typebox';
import { DomainError } from '../../lib/errors';
import { matchesEtag, type Catalogue } from '../catalogue-cache';
import { MAX_AVAILABLE as MAX_STOCK, type InventoryService } from '../../services/inventory/inventory.service';
import { PageOf, PageQueryFields } from '../paging';
import { AcceptedCurrency, errors, IdParams, INT4_MAX, PriceCents, Product, Text } from '../schemas';

export interface ProductRoutesOptions {
  inventory: InventoryService;
  /** GET /v1/products answers from it: the instance's cache, or a read-through without one. */
  catalogue: Catalogue;
}

const ProductListQuery = Type.Object(
  {
    ...PageQueryFields,
    q: Type.Optional(
      Text({ minLength: 1, maxLength: 100, description: 'Searches the name and the SKU, case-insensitively' }),
    ),
    available: Type.Optional(
      Type.Boolean({ description: 'true: only products with units available; false: only sold-out ones' }),
    ),
  },
  { additionalProperties: false },
);

const NewProduct = Type.Object(
  {
    sku: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$' }),
    name: Text({ minLength: 1, maxLength: 200 }),
    priceCents: PriceCents,
    currency: Type.Optional(AcceptedCurrency),
    available: Type.Integer({ minimum: 0, maximum: MAX_STOCK }),
  },
  { additionalProperties: false },
);
const ProductChanges = Type.Object(
  {
    version: Type.Integer({ minimum: 1, maximum: INT4_MAX }),
    name: Type.Optional(Text({ minLength: 1, maxLength: 200 })),
    priceCents: Type.Optional(PriceCents),
  },
  {
    additionalProperties: false,
    description: 'Name and price; stock changes by delta through POST /v1/products/{id}/stock',
  },
);
const StockChange = Type.Object(
  {
    delta: Type.Integer({
      minimum: -MAX_STOCK,
      maximum: MAX_STOCK,
      not: { const: 0 },
      description: 'Units to add (a delivery) or, negative, to take away from the available ones',
    }),
    reason: Text({
      minLength: 1,
      maxLength: 200,
      description: 'Why, for the stock ledger: "delivery 2026-12-01", "damaged"',
    }),
  },
  { additionalProperties: false },
);

export const productRoutes: FastifyPluginAsyncTypebox<ProductRoutesOptions> = async (app, { inventory, catalogue }) => {
  app.get(
    '/v1/products',
    {
      schema: {
        operationId: 'listProducts',
        summary: 'List the catalogue',
        tags: ['products'],
        description:
          'A page of the catalogue in SKU order, searched by `q` (name or SKU) and filtered by `available`; ' +
          '`nextCursor` leads to the next page. Each page has an `ETag`: a client that sends it back in ' +
          '`If-None-Match` gets 304 while the page is unchanged. ' +
          'A change to a price, a name or the units available is seen by every API instance within a second.',
        querystring: ProductListQuery,
        response: {
          200: PageOf(Product),
          304: Type.Null({ description: 'Not modified: the page is still the one of the ETag sent' }),
          ...errors(400),
        },
      },
    },
    async (request, reply) => {
      const page = await catalogue.page(request.query);
      // no-cache: a client may keep the catalogue, but asks (If-None-Match) before each use.
      reply.header('etag', page.etag).header('cache-control', 'no-cache');
      // Untyped for these two sends: the type provider knows only the schemas' objects, while a 304 has
      // no body at all and the 200's is the string of JSON the schema describes, serialized once per
      // change of the catalogue (Fastify sends a string of JSON content type as it is).
      const raw = reply as FastifyReply;
      if (matchesEtag(request.headers['if-none-match'], page.etag)) return raw.code(304).send();
      return raw.type('application/json; charset=utf-8').send(page.body);
    },
  );

  app.get(
    '/v1/products/:id',
    {
      schema: {
        operationId: 'getProduct',
        summary: 'Read one product',
        description:
          'The product with its price, available units and version (for an optimistic PATCH). Public: no sign-in needed.',
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
    {
      preHandler: app.requireAdmin,
      schema: {
        operationId: 'createProduct',
        summary: 'Add a product (admin)',
        description: 'Creates a product with its stock. The SKU is unique; a taken one gets 409 SKU_TAKEN.',
        tags: ['products'],
        body: NewProduct,
        response: { 201: Product, ...errors(400, 401, 403, 409) },
      },
    },
    async (request, reply) => reply.code(201).send(await inventory.createProduct(request.body)),
  );

  app.patch(
    '/v1/products/:id',
    {
      preHandler: app.requireAdmin,
      schema: {
        operationId: 'updateProduct',
        summary: 'Edit a product (admin)',
        description:
          'Edits name and price with the version read; a stale version gets 409 VERSION_CONFLICT and changes nothing. Stock changes through POST /v1/products/{id}/stock.',
        tags: ['products'],
        params: IdParams,
        body: ProductChanges,
        response: { 200: Product, ...errors(400, 401, 403, 404, 409) },
      },
    },
    async (request) => inventory.updateProduct(request.params.id, request.body),
  );

  app.post(
    '/v1/products/:id/stock',
    {
      preHandler: app.requireAdmin,
      schema: {
        operationId: 'adjustProductStock',
        summary: 'Adjust the stock of a product (admin)',
        tags: ['products'],
        description:
          'Adjusts the stock by `delta`, atomically with reservations: units held by orders are never given back. ' +
          'Taking away more than is available is refused with 409 INSUFFICIENT_STOCK.',
        params: IdParams,
        body: StockChange,
        response: { 200: Product, ...errors(400, 401, 403, 404, 409) },
      },
    },
    async (request) => inventory.adjustStock({ productId: request.params.id, ...request.body }),
  );
};
