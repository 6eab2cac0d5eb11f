/**
 * One error handler for the whole API: domain codes become their documented status,
 * Fastify's own errors (validation, bad JSON, size) get stable codes, and nothing else
 * reaches the client beyond "internal error" — never a stack, never a 5xx cause.
 */
import fp from 'fastify-plugin';
import type { FastifyError, FastifyInstance } from 'fastify';
import { DomainError } from '../../lib/errors';

/** The HTTP status of each domain code the API can answer with (DESIGN.md "Storefront API"). */
export const STATUS_BY_CODE: Record<string, number> = {
  VALIDATION_FAILED: 400,
  INVALID_JSON: 400,
  CART_EMPTY: 400,
  UNKNOWN_PRODUCT: 400,
  MIXED_CURRENCIES: 400,
  INVALID_QUANTITY: 400,
  UNKNOWN_RESOURCE: 400,
  UNKNOWN_PLAN: 400,
  INVALID_SIGNATURE: 400,
  INVALID_CURRENCY: 400,
  INVALID_EMAIL: 400,
  WEAK_PASSWORD: 400,
  UNAUTHORIZED: 401,
  TOKEN_EXPIRED: 401,
  INVALID_CREDENTIALS: 401,
  PAYMENT_DECLINED: 402,
  FORBIDDEN: 403,
  CSRF_REJECTED: 403,
  NOT_FOUND: 404,
  ROUTE_NOT_FOUND: 404,
  ORDER_NOT_FOUND: 404,
  PRODUCT_NOT_FOUND: 404,
  NOTIFICATION_NOT_FOUND: 404,
  ACCOUNT_NOT_FOUND: 404,
  OUT_OF_STOCK: 409,
  ORDER_NOT_PAYABLE: 409,
  ORDER_NOT_CANCELLABLE: 409,
  VERSION_CONFLICT: 409,
  SKU_TAKEN: 409,
  INSUFFICIENT_STOCK: 409,
  STOCK_LIMIT: 409,
  EMAIL_TAKEN: 409,
  ACCOUNT_EXISTS: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  IDEMPOTENCY_KEY_REUSED: 422,
  ORDER_TOO_LARGE: 422,
  ORDER_TOO_SMALL: 422,
  CART_FULL: 422,
  QUOTA_EXCEEDED: 429,
  RATE_LIMITED: 429,
  TOO_MANY_STREAMS: 429,
  TEMPORAL_UNAVAILABLE: 503,
  STREAM_UNAVAILABLE: 503,
};

/** Fastify's own error codes, renamed to the API's. */
const FASTIFY_CODES: Record<string, string> = {
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
        const status = STATUS_BY_CODE[error.code] ?? 500;
        if (status >= 500) request.log.warn({ code: error.code, err: error }, 'domain error with a 5xx status');
        return reply.code(status).send(errorBody(status === 500 ? 'INTERNAL' : error.code, status === 500 ? 'Internal error' : error.message));
      }
      if (error.validation) {
        return reply.code(400).send(errorBody('VALIDATION_FAILED', `${error.validationContext ?? 'request'} ${firstValidationMessage(error)}`));
      }
      const code = error.code ? FASTIFY_CODES[error.code] : undefined;
      if (code) return reply.code(STATUS_BY_CODE[code]!).send(errorBody(code, error.message));
      if (error.statusCode === 429) return reply.code(429).send(errorBody('RATE_LIMITED', error.message));
      if (error.statusCode && error.statusCode >= 400 && error.statusCode < 500) {
        return reply.code(error.statusCode).send(errorBody('BAD_REQUEST', error.message));
      }
      request.log.error({ err: error }, 'unhandled error');
      return reply.code(500).send(errorBody('INTERNAL', 'Internal error'));
    });

    app.setNotFoundHandler((request, reply) => reply.code(404).send(errorBody('ROUTE_NOT_FOUND', `No route ${request.method} ${request.url.split('?')[0]}`)));
  },
  { name: 'errors' },
);

function firstValidationMessage(error: FastifyError): string {
  const first = error.validation?.[0];
  if (!first) return error.message;
  const where = first.instancePath ? first.instancePath.replace(/^\//, '').replace(/\//g, '.') : '';
  return where ? `${where} ${first.message}` : (first.message ?? error.message);
}
