/**
 * One OpenTelemetry span per API request, the parent of whatever the request does in Temporal:
 * the workflow client's interceptor (temporal/tracing.ts) reads the active context, so the
 * workflow started by `POST /v1/orders` and each of its activities land in the request's trace.
 * A caller's `traceparent` header is honoured, so a storefront frontend can continue its own trace.
 * The request's log lines carry `trace_id` and `span_id`. Registered only when tracing is on.
 */
import fp from 'fastify-plugin';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  context,
  propagation,
  trace,
  type Context,
  type Span,
} from '@opentelemetry/api';
import type { Tracing } from '../../temporal/tracing';

interface RequestTrace {
  span: Span;
  context: Context;
}

const traces = new WeakMap<FastifyRequest, RequestTrace>();

export const tracing = fp(
  async function tracing(app: FastifyInstance, options: { tracing: Tracing }) {
    const { tracer } = options.tracing;

    app.addHook('onRequest', (request, reply, done) => {
      const parent = propagation.extract(ROOT_CONTEXT, request.headers);
      const route = request.routeOptions.url ?? request.url.split('?')[0]!;
      const span = tracer.startSpan(
        `${request.method} ${route}`,
        {
          kind: SpanKind.SERVER,
          attributes: {
            'http.request.method': request.method,
            'http.route': route,
            'storefront.request_id': request.id,
          },
        },
        parent,
      );
      const active = trace.setSpan(parent, span);
      traces.set(request, { span, context: active });
      const ids = span.spanContext();
      // The reply keeps its own reference (Fastify's "request completed" line is written through it).
      request.log = request.log.child({ trace_id: ids.traceId, span_id: ids.spanId });
      reply.log = request.log;
      context.with(active, done);
    });

    // Body parsing runs outside the context entered above (the socket's events): enter it again for the handler.
    app.addHook('preHandler', (request, _reply, done) => {
      const current = traces.get(request);
      if (current) context.with(current.context, done);
      else done();
    });

    app.addHook('onResponse', (request, reply, done) => {
      const current = traces.get(request);
      if (current) {
        current.span.setAttribute('http.response.status_code', reply.statusCode);
        if (reply.statusCode >= 500) current.span.setStatus({ code: SpanStatusCode.ERROR });
        current.span.end();
        traces.delete(request);
      }
      done();
    });
  },
  { name: 'tracing' },
);
