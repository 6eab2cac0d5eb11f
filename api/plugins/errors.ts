/**
 * One error handler for the whole API: domain codes become their documented status,
 * Fastify's own errors (validation, bad JSON, size) get stable codes, and nothing else
 * reaches the client beyond "internal error" — never a stack, never a 5xx cause.
 */
import fp from 'fastify-plugin';
import type { FastifyError, FastifyInstance } from 'fastify';
import { DomainError } from '../../lib/errors';
import { HTTP_STATUS_BY_CODE, httpStatusOf, type ErrorCode } from '../../lib/error-codes';

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

function firstValidationMessage(error: FastifyError): string {
  const first = error.validation?.[0];
  if (!first) return error.message;
  const where = first.instancePath ? first.instancePath.replace(/^\//, '').replace(/\//g, '.') : '';
  return where ? `${where} ${first.message}` : (first.message ?? error.message);
}
