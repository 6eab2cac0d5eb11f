/** The signed-in user's cart: prices are the catalogue's at the time an item is put in. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { DomainError } from '../../lib/errors';
import type { CartService } from '../../services/cart/cart.service';
import type { InventoryService } from '../../services/inventory/inventory.service';
import { Cart, errors, Uuid } from '../schemas';

export interface CartRoutesOptions {
  cart: CartService;
  inventory: Pick<InventoryService, 'getProduct'>;
}

const ItemParams = Type.Object({ productId: Uuid });
const SetQuantity = Type.Object(
  { quantity: Type.Integer({ minimum: 0, maximum: 1000 }) },
  { additionalProperties: false },
);

export const cartRoutes: FastifyPluginAsyncTypebox<CartRoutesOptions> = async (app, { cart, inventory }) => {
  app.get(
    '/v1/cart',
    {
      preHandler: app.authenticate,
      schema: {
        operationId: 'getCart',
        summary: "Read the user's cart",
        description: 'The items with their current prices and the total.',
        tags: ['cart'],
        response: { 200: Cart, ...errors(401) },
      },
    },
    async (request) => cart.get(request.user.sub),
  );

  app.put(
    '/v1/cart/items/:productId',
    {
      preHandler: app.authenticate,
      schema: {
        operationId: 'setCartItem',
        summary: 'Set the quantity of one product in the cart',
        description: 'Sets, not adds: the same request twice leaves the same cart. Quantity 0 removes the item.',
        tags: ['cart'],
        params: ItemParams,
        body: SetQuantity,
        response: { 200: Cart, ...errors(400, 401, 404, 422) },
      },
    },
    async (request) => {
      const { productId } = request.params;
      if (request.body.quantity === 0) return cart.removeItem(request.user.sub, productId);
      const product = await inventory.getProduct(productId);
      if (!product) throw new DomainError('PRODUCT_NOT_FOUND', `No product ${productId}`);
      return cart.setItem(request.user.sub, {
        productId,
        quantity: request.body.quantity,
        priceCents: product.priceCents,
        currency: product.currency,
      });
    },
  );

  app.delete(
    '/v1/cart/items/:productId',
    {
      preHandler: app.authenticate,
      schema: {
        operationId: 'removeCartItem',
        summary: 'Remove one product from the cart',
        description: 'Idempotent: removing an item that is not there answers the cart as it is.',
        tags: ['cart'],
        params: ItemParams,
        response: { 200: Cart, ...errors(400, 401) },
      },
    },
    async (request) => cart.removeItem(request.user.sub, request.params.productId),
  );
};
