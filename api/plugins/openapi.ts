/**
 * The OpenAPI document generated from the routes' schemas (@fastify/swagger), served at /docs/json
 * with Swagger UI at /docs. Each route's schema carries its own operationId, summary and description;
 * what the route's definition already says is derived here, not written twice:
 * - its security, from the hooks it runs (api/route-access.ts): public routes `security: []`, the
 *   others a bearer token or the session cookie, the cookie with the CSRF header on state-changing
 *   calls (api/plugins/auth.ts), and `?access_token=` where the route takes it;
 * - the errors every route of its kind can answer (ErrorBody): 400 for a request schema, 413 and 415
 *   for a body, 401 for a signed-in route, 403 for an admin route or a cookie call that changes
 *   state, 429 for a rate-limited one;
 * - a Server-Sent Events route's 200 as `text/event-stream` and its errors as JSON;
 * - whether its body is required: Fastify validates a missing body as `null`, so a body schema
 *   that takes `null` makes the body optional.
 * The contract tier (test/helpers/contract.ts) checks every API-tier request and answer against it.
 */
import fp from 'fastify-plugin';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance, RouteOptions } from 'fastify';
import { accessOf, type Access } from '../route-access';
import { errors } from '../schemas';
import { CSRF_HEADER, SESSION_COOKIE } from './auth';

export const SECURITY_SCHEMES = {
  bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'The token sign-in answers with' },
  session: {
    type: 'apiKey',
    in: 'cookie',
    name: SESSION_COOKIE,
    description: 'The HttpOnly session cookie sign-in sets (the dashboard); a dev token is never accepted as a cookie',
  },
  csrfToken: {
    type: 'apiKey',
    in: 'header',
    name: 'X-CSRF-Token',
    description:
      'The value of the readable `sf_csrf` cookie sign-in sets: a call that changes something with the session cookie must echo it (403 CSRF_REJECTED without it). Bearer calls need none.',
  },
  accessToken: {
    type: 'apiKey',
    in: 'query',
    name: 'access_token',
    description: 'The bearer token in the query, where a route takes it (EventSource cannot send headers)',
  },
} as const;

type Security = Partial<Record<keyof typeof SECURITY_SCHEMES, string[]>>[];

/** Methods that change nothing: a cookie call with one of them needs no CSRF header. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** What transform() learned of a route, for transformObject() to write once the operation exists. */
const DERIVED = 'x-derived';
interface Derived {
  security: Security;
  bodyOptional: boolean;
}

type RouteSchema = Record<string, unknown> & { response?: Record<string, unknown>; body?: unknown; hide?: boolean };

/** The security requirement of a route: alternatives, any one of which lets the request in. */
export function securityOf(access: Access, method: string, config: RouteOptions['config']): Security {
  if (access === 'public') return [];
  const changes = !SAFE_METHODS.has(method);
  // The codec's POSTs change nothing and are called by pages that cannot have the CSRF token.
  const csrf = changes && !config?.readOnlyPostFrom;
  return [
    { bearer: [] },
    csrf ? { session: [], csrfToken: [] } : { session: [] },
    ...(config?.allowQueryToken ? [{ accessToken: [] }] : []),
  ];
}

/** The error statuses every route of this kind can answer, whatever its handler does. */
export function derivedErrorStatuses(route: RouteOptions, access: Access, method: string): number[] {
  const schema = (route.schema ?? {}) as RouteSchema;
  const statuses: number[] = [];
  // A method that can carry a body is parsed by Fastify whether or not the route reads one: a
  // malformed, oversized or unsupported body is refused (400, 413, 415) before its handler runs.
  const takesBody = schema.body !== undefined || !SAFE_METHODS.has(method);
  if (takesBody || schema.params || schema.querystring || schema.headers) statuses.push(400);
  if (access !== 'public') statuses.push(401);
  if (access === 'admin' || (access !== 'public' && !SAFE_METHODS.has(method))) statuses.push(403);
  if (takesBody) statuses.push(413, 415);
  if ((route.config as { rateLimit?: unknown } | undefined)?.rateLimit) statuses.push(429);
  return statuses;
}

/** Whether a JSON schema takes `null`: Fastify validates a request without a body as `null`. */
export function acceptsNull(schema: unknown): boolean {
  if (!schema || typeof schema !== 'object') return false;
  const node = schema as { type?: string | string[]; anyOf?: unknown[]; oneOf?: unknown[]; const?: unknown };
  if (node.const !== undefined) return node.const === null;
  if (node.type !== undefined) return [node.type].flat().includes('null');
  const members = node.anyOf ?? node.oneOf;
  return members ? members.some(acceptsNull) : false;
}

function transform({ schema, route, url }: { schema: unknown; route: RouteOptions; url: string }) {
  const own = schema as RouteSchema | undefined;
  if (!own || own.hide) return { schema: own, url };
  const method = [route.method].flat()[0]!.toUpperCase();
  const access = accessOf(route);
  const documented = own.response ?? {};
  const missing = derivedErrorStatuses(route, access, method).filter((status) => !(status in documented));
  const derived: Derived = {
    security: securityOf(access, method, route.config),
    bodyOptional: own.body !== undefined && acceptsNull(own.body),
  };
  const response: Record<number, unknown> = { ...documented, ...errors(...missing) };
  const stream = eventStream(route, own);
  if (!stream) return { schema: { ...own, response, [DERIVED]: derived }, url };
  // A stream's 200 is text/event-stream; everything said before its first byte is a JSON error.
  const { produces: _produces, ...rest } = own;
  const ok = (response[200] ?? {}) as { description?: string };
  const streamed = { description: ok.description ?? 'Server-Sent Events', content: { [EVENT_STREAM]: { schema: ok } } };
  return { schema: { ...rest, response: { ...response, 200: streamed }, [DERIVED]: derived }, url };
}

const EVENT_STREAM = 'text/event-stream';

/** A Server-Sent Events route (@fastify/sse's `sse` option, or a schema that produces only event streams). */
function eventStream(route: RouteOptions, schema: RouteSchema): boolean {
  const produces = schema.produces as string[] | undefined;
  return Boolean((route as { sse?: unknown }).sse) || (produces?.length === 1 && produces[0] === EVENT_STREAM);
}

function transformObject({ openapiObject }: { openapiObject: unknown }) {
  const document = openapiObject as {
    paths?: Record<string, Record<string, Record<string, unknown>>>;
  };
  for (const operations of Object.values(document.paths ?? {})) {
    for (const operation of Object.values(operations)) {
      const derived = operation[DERIVED] as Derived | undefined;
      if (!derived) continue;
      delete operation[DERIVED];
      operation.security = derived.security;
      const body = operation.requestBody as { required?: boolean } | undefined;
      if (body && derived.bodyOptional) body.required = false;
    }
  }
  return document;
}

export const openapi = fp(
  async function openapi(app: FastifyInstance) {
    await app.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info: {
          title: 'Storefront Sagas API',
          version: '1.0.0',
          description:
            'Checkout as a Temporal saga across services that each own their database. Errors are {"error":{"code","message"}}. ' +
            `Each operation names its security: public ones none; the others a bearer token or the session cookie, with the ${CSRF_HEADER} header on calls that change something.`,
          contact: { name: 'Storefront Sagas maintainers' },
          license: { name: 'MIT', identifier: 'MIT' },
        },
        // Relative, so the document is right behind any host or proxy that serves it.
        servers: [{ url: '/', description: 'This API' }],
        components: { securitySchemes: SECURITY_SCHEMES },
        // Signed in by default: an operation that lost its own `security: []` asks for a credential.
        security: [{ bearer: [] }, { session: [] }],
        tags: ['auth', 'products', 'cart', 'orders', 'usage', 'notifications', 'webhooks', 'health', 'codec'].map(
          (name) => ({ name }),
        ),
      },
      transform: transform as never,
      transformObject: transformObject as never,
    });
    await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true });
  },
  { name: 'openapi' },
);
