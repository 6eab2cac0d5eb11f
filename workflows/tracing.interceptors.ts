/**
 * The workflow side of tracing, bundled into the workflow code only when tracing is on
 * (temporal/tracing.ts): @temporalio/interceptors-opentelemetry's spans, plus a link from every later
 * request's handler span to the run it reached, and a trace of its own for each run of a
 * long-lived workflow.
 *
 * A checkout is one trace: the request that placed the order starts the workflow, the run's span is
 * a child of that request's, and the activities are scheduled by the workflow body, so their spans
 * are children of the run's whichever request woke the body. A later request (pay, cancel, a Stripe
 * webhook) is its own trace, ending in the workflow's handler span (`HandleUpdate:pay`), which
 * only records the request; the charge it asked for runs in the checkout's trace. The link from
 * the handler span to the run's span is how a trace viewer gets from the payment request to
 * that charge (OpenTelemetry's links: a span caused by, but not part of, another trace).
 *
 * A user's notification workflow lives for months, run after run (continue-as-new): each run roots
 * a trace of its own, linked to whoever started it (the checkout or request that first notified
 * the user, or the run before), instead of growing that caller's trace for as long as it lives.
 */
import { context, trace, type Context } from '@opentelemetry/api';
import { extractContextFromHeaders, TRACE_HEADER } from '@temporalio/interceptors-opentelemetry/lib/instrumentation';
import {
  OpenTelemetryInboundInterceptor,
  OpenTelemetryInternalsInterceptor,
  OpenTelemetryOutboundInterceptor,
} from '@temporalio/interceptors-opentelemetry/lib/workflow';
import {
  workflowInfo,
  type Next,
  type SignalInput,
  type UpdateInput,
  type WorkflowExecuteInput,
  type WorkflowInboundCallsInterceptor,
  type WorkflowInterceptors,
} from '@temporalio/workflow';
import { notificationWorkflow } from './notification.workflow';

/** What a link points at, for a trace viewer's list of links: the run a handler reached, the span that started a run. */
export const RUN_LINK_ATTRIBUTES = { 'storefront.link': 'workflow run' } as const;
export const STARTER_LINK_ATTRIBUTES = { 'storefront.link': 'started by' } as const;

/** Workflows that outlive any request: their runs are traces of their own. */
const OWN_TRACE_WORKFLOWS: readonly string[] = [notificationWorkflow.name];

/** The library's inbound spans, and the run's context (captured as the run's span opens) for the handlers' links. One per workflow. */
class TraceLinkingInbound extends OpenTelemetryInboundInterceptor {
  private runContext?: Context;

  override execute(
    input: WorkflowExecuteInput,
    next: Next<WorkflowInboundCallsInterceptor, 'execute'>,
  ): Promise<unknown> {
    const starter = OWN_TRACE_WORKFLOWS.includes(workflowInfo().workflowType)
      ? extractContextFromHeaders(input.headers)
      : undefined;
    const { [TRACE_HEADER]: _starterHeader, ...headers } = input.headers;
    return super.execute(starter ? { ...input, headers } : input, (inner) => {
      this.runContext = context.active();
      const starterSpan = starter && trace.getSpanContext(starter);
      if (starterSpan) trace.getActiveSpan()?.addLink({ context: starterSpan, attributes: STARTER_LINK_ATTRIBUTES });
      return next(inner);
    });
  }

  override handleUpdate(
    input: UpdateInput,
    next: Next<WorkflowInboundCallsInterceptor, 'handleUpdate'>,
  ): Promise<unknown> {
    return super.handleUpdate(input, (inner) => {
      this.linkToRun();
      return next(inner);
    });
  }

  override handleSignal(
    input: SignalInput,
    next: Next<WorkflowInboundCallsInterceptor, 'handleSignal'>,
  ): Promise<void> {
    return super.handleSignal(input, (inner) => {
      this.linkToRun();
      return next(inner);
    });
  }

  /** The handler's span is active here; a handler of the run's own trace (the placement's update) needs no link. */
  private linkToRun(): void {
    const run = this.runContext && trace.getSpanContext(this.runContext);
    const handler = trace.getActiveSpan();
    if (run && handler && handler.spanContext().traceId !== run.traceId)
      handler.addLink({ context: run, attributes: RUN_LINK_ATTRIBUTES });
  }
}

export const interceptors = (): WorkflowInterceptors => ({
  inbound: [new TraceLinkingInbound()],
  outbound: [new OpenTelemetryOutboundInterceptor()],
  internals: [new OpenTelemetryInternalsInterceptor()],
});
