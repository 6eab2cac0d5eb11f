/**
 * One error handler for the whole API: domain codes become their documented status,
 * Fastify's own errors (validation, bad JSON, size) get stable codes, and nothing else
 * reaches the client beyond "internal error" — never a stack, never a 5xx cause. A request
 * refused because it carries text PostgreSQL cannot store is named as such (UNSTORABLE_TEXT).
 */
import fp from 'fastify-plugin';
import type { FastifyError, FastifyInstance, FastifyRequest } from 'fastify';
import { DomainError } from '../../lib/errors';
import { HTTP_STATUS_BY_CODE, httpStatusOf, type ErrorCode } from '../../lib/error-codes';
import { unstorableTextAt } from '../schemas';

/** The HTTP status of each domain code the API can answer with: the one registry in lib/error-codes.ts. */
export const STATUS_BY_CODE: Readonly<Record<string, number>> = HTTP_STATUS_BY_CODE;

/** Fastify's own error codes, renamed to the API's. */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'VALIDATION_FAILED',
};

export function errorBody(code: string, message: string) {
  return { error: { code, message } };
}

export const errorHandler = fp(
  async function errorHandler(app: FastifyInstance) {
    app.setErrorHandler((error: FastifyError | DomainError, request, reply) => {
      if (error instanceof DomainError) {
        const status = httpStatusOf(error.code);
        if (status >= 500) request.log.warn({ code: error.code, err: error }, 'domain error with a 5xx status');
        return reply
          .code(status)
          .send(errorBody(status === 500 ? 'INTERNAL' : error.code, status === 500 ? 'Internal error' : error.message));
      }
      if (error.validation) {
        const unstorable = unstorableTextOf(request, error);
        if (unstorable !== undefined) {
          return reply
            .code(400)
            .send(
              errorBody(
                'UNSTORABLE_TEXT',
                `${unstorable} holds text that cannot be stored: a NUL (U+0000) or a lone surrogate (U+D800 to U+DFFF)`,
              ),
            );
        }
        return reply
          .code(400)
          .send(
            errorBody('VALIDATION_FAILED', `${error.validationContext ?? 'request'} ${firstValidationMessage(error)}`),
          );
      }
      const code = error.code ? FASTIFY_CODES[error.code] : undefined;
      if (code) return reply.code(httpStatusOf(code)).send(errorBody(code, error.message));
      if (error.statusCode === 429) return reply.code(429).send(errorBody('RATE_LIMITED', error.message));
      if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) {
        return reply.code(error.statusCode).send(errorBody('BAD_REQUEST', error.message));
      }
      request.log.error({ err: error }, 'unhandled error');
      return reply.code(500).send(errorBody('INTERNAL', 'Internal error'));
    });

    app.setNotFoundHandler((request, reply) =>
      reply.code(404).send(errorBody('ROUTE_NOT_FOUND', `No route ${request.method} ${request.url.split('?')[0]}`)),
    );
  },
  { name: 'errors' },
);

/** The request parts a validation context names. */
const PARTS = { body: 'body', params: 'params', querystring: 'query', headers: 'headers' } as const;

/**
 * Where the value the first validation error is about holds text PostgreSQL cannot store (the
 * schemas refuse it: api/schemas.ts Text), as `body.reason`; undefined when it holds none.
 */
function unstorableTextOf(request: FastifyRequest, error: FastifyError): string | undefined {
  const context = (error.validationContext ?? 'body') as keyof typeof PARTS;
  const part = PARTS[context];
  if (!part) return undefined;
  const pointer = error.validation?.[0]?.instancePath ?? '';
  const steps = pointer
    .split('/')
    .slice(1)
    .map((step) => step.replace(/~1/g, '/').replace(/~0/g, '~'));
  let value: unknown = request[part];
  for (const step of steps)
    value = value && typeof value === 'object' ? (value as Record<string, unknown>)[step] : undefined;
  const at = unstorableTextAt(value, steps.join('.'));
  return at === undefined ? undefined : at ? `${context}.${at}` : context;
}

function firstValidationMessage(error: FastifyError): string {
  const first = error.validation?.[0];
  if (!first) return error.message;
  const where = first.instancePath ? first.instancePath.replace(/^\//, '').replace(/\//g, '.') : '';
  return where ? `${where} ${first.message}` : (first.message ?? error.message);
}
