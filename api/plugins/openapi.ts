/**
 * The OpenAPI document generated from the routes' schemas (@fastify/swagger), served at /docs/json
 * with Swagger UI at /docs. Each route's schema carries its own operationId, summary and description.
 */
import fp from 'fastify-plugin';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';

export const openapi = fp(
  async function openapi(app: FastifyInstance) {
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
