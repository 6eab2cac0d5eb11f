/**
 * OpenTelemetry tracing across processes, one trace per checkout: the placing request's span is the
 * parent of the workflow run's (the client interceptor puts the trace context into the workflow's
 * headers), and each activity's span is a child of the run's (@temporalio/interceptors-opentelemetry).
 * A later request to the order (pay, cancel) is its own trace, linked to the run's span
 * (workflows/tracing.interceptors.ts). Trace and span ids go into the log lines: the
 * interceptors add `trace_id`/`span_id` to workflow and activity logs, the API's request logger
 * gets the same fields (api/plugins/tracing.ts).
 *
 * On when `OTEL_EXPORTER_OTLP_ENDPOINT` is set (OTLP over HTTP, the exporter reads the standard
 * OTEL_EXPORTER_OTLP_* settings itself), or when a test hands in its own exporter. Off, nothing
 * is installed: no interceptors, no workflow interceptor module in the bundle, no sink.
 */
import { context, propagation, trace, type Tracer } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { Resource } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  SimpleSpanProcessor,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry/lib/client';
import {
  makeWorkflowExporter,
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
} from '@temporalio/interceptors-opentelemetry/lib/worker';
import type { ClientInterceptors } from '@temporalio/client';
import type { InjectedSinks, WorkerInterceptors } from '@temporalio/worker';

type Env = Record<string, string | undefined>;

/** The workflow-side interceptors: bundled into the workflow code only when tracing is on. */
export const WORKFLOW_TRACING_MODULE = require.resolve('../workflows/tracing.interceptors');

export interface Tracing {
  tracer: Tracer;
  /** For the Client: one span per start/update/signal/query, its context sent in the headers. */
  clientInterceptors: ClientInterceptors;
  /** For a Worker: activity spans, trace ids in activity logs, and the module for workflow spans. */
  workerInterceptors: WorkerInterceptors;
  /** For a Worker: the sink through which workflow code (which has no I/O) hands its spans out. */
  workerSinks: InjectedSinks<Record<string, never>>;
  /** Flushes spans still buffered; call before the process exits. */
  shutdown(): Promise<void>;
}

export interface TracingOptions {
  /** `service.name` on every span: `storefront-api`, `storefront-worker`... */
  serviceName: string;
  /** Spans go here instead of OTLP (tests: an InMemorySpanExporter); tracing is then on whatever the environment says. */
  exporter?: SpanExporter;
  env?: Env;
}

let registered: NodeTracerProvider | undefined;

/** Tracing for this process, or undefined when it is off. */
export function installTracing(options: TracingOptions): Tracing | undefined {
  const env = options.env ?? process.env;
  const endpoint = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim();
  if (!options.exporter && !endpoint) return undefined;

  const resource = new Resource({ 'service.name': env.OTEL_SERVICE_NAME?.trim() || options.serviceName });
  // Batched for OTLP (one request per batch, off the request path); at once for a test's exporter, so it sees every span when the work is done.
  const spanProcessor: SpanProcessor = options.exporter
    ? new SimpleSpanProcessor(options.exporter)
    : new BatchSpanProcessor(new OTLPTraceExporter());
  const provider = new NodeTracerProvider({ resource, spanProcessors: [spanProcessor] });
  // The global context manager (AsyncLocalStorage) and W3C propagator are process-wide: registered once.
  if (!registered) {
    provider.register();
    registered = provider;
  }
  const tracer = provider.getTracer('storefront-sagas');
  return {
    tracer,
    clientInterceptors: { workflow: [new OpenTelemetryWorkflowClientInterceptor({ tracer })] },
    workerInterceptors: {
      activity: [
        (ctx) => ({
          inbound: new OpenTelemetryActivityInboundInterceptor(ctx, { tracer }),
          outbound: new OpenTelemetryActivityOutboundInterceptor(ctx),
        }),
      ],
      workflowModules: [WORKFLOW_TRACING_MODULE],
    },
    workerSinks: { exporter: makeWorkflowExporter(spanProcessor, resource) } as unknown as InjectedSinks<
      Record<string, never>
    >,
    async shutdown() {
      await provider.forceFlush();
      await provider.shutdown();
    },
  };
}

/** The current span's ids, for a log line; empty outside a span. */
export function traceFields(): { trace_id?: string; span_id?: string } {
  const span = trace.getSpan(context.active());
  const ids = span?.spanContext();
  return ids && trace.isSpanContextValid(ids) ? { trace_id: ids.traceId, span_id: ids.spanId } : {};
}

export { context, propagation, trace };
