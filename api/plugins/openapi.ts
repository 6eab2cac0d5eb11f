/** The OpenAPI document generated from the routes' schemas (@fastify/swagger), served at /docs/json with Swagger UI at /docs. */
import fp from 'fastify-plugin';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { OPERATIONS, operationKey } from '../operations';

export const openapi = fp(
  async function openapi(app: FastifyInstance) {
    // Routes are added after this plugin: each documented one gets its entry of the operations table.
    app.addHook('onRoute', (route) => {
      if (!route.schema || route.schema.hide) return;
      for (const method of [route.method].flat()) {
        const doc = OPERATIONS[operationKey(method, route.url)];
        if (doc) route.schema = { ...doc, ...route.schema, operationId: doc.operationId };
      }
    });
    await app.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info: {
          title: 'Storefront Sagas API',
          version: '1.0.0',
          description:
            'Checkout as a Temporal saga across services that each own their database. Errors are {"error":{"code","message"}}.',
          contact: { name: 'Storefront Sagas maintainers' },
          license: { name: 'MIT', identifier: 'MIT' },
        },
        // Relative, so the document is right behind any host or proxy that serves it.
        servers: [{ url: '/', description: 'This API' }],
        components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
        security: [{ bearer: [] }],
        tags: ['auth', 'products', 'cart', 'orders', 'usage', 'notifications', 'webhooks', 'health', 'codec'].map(
          (name) => ({ name }),
        ),
      },
    });
    await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true });
  },
  { name: 'openapi' },
);
