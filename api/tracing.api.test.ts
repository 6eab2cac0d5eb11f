/**
 * Tracing across the API, the workflow and its activities, seen by an in-memory exporter: each
 * checkout is one trace, begun by the request that placed the order, holding the workflow run and
 * a span for every activity the run scheduled (the charge too, though the payment request asked
 * for it). The payment request is its own trace, whose workflow handler span links to the run's.
 * A user's long-lived notification workflow roots its own trace. The API's log lines for a request
 * carry its trace id.
 */
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { randomUUID } from 'node:crypto';
import { installTracing, type Tracing } from '../temporal/tracing';
import { waitUntil } from '../devstack/waits';
import { notificationWorkflowId, orderWorkflowId } from '../workflows/contract';
import { RUN_LINK_ATTRIBUTES } from '../workflows/tracing.interceptors';
import { startApiHarness, type ApiHarness } from '../test/helpers/api';
import { newProduct } from '../test/helpers/checkouts';

jest.setTimeout(120_000);

const exporter = new InMemorySpanExporter();
const logLines: Record<string, unknown>[] = [];
let tracing: Tracing;
let api: ApiHarness;

beforeAll(async () => {
  tracing = installTracing({ serviceName: 'storefront-test', exporter })!;
  api = await startApiHarness({
    temporal: { tracing },
    notifier: true,
    app: {
      tracing,
      logger: {
        level: 'info',
        stream: { write: (line: string) => void logLines.push(JSON.parse(line) as Record<string, unknown>) },
      },
    },
  });
});
afterAll(async () => {
  await api?.close();
  await tracing?.shutdown();
});

const spans = (): ReadableSpan[] => exporter.getFinishedSpans();
const traceOf = (span: ReadableSpan): string => span.spanContext().traceId;
/** The workflow id on a span: the workflow's own spans carry it as `workflowId`, an activity's as `temporalWorkflowId`. */
const workflowOf = (span: ReadableSpan): unknown => span.attributes.workflowId ?? span.attributes.temporalWorkflowId;

/** Places an order and pays it through the API; answers the order id once its workflow is done and its run's span exported. */
async function checkout(): Promise<{ orderId: string; workflowId: string }> {
  const product = await newProduct(api.services.inventory, 'TRC', 2, 900);
  const userId = `tracer-${randomUUID().slice(0, 8)}`;
  const placed = await api.as(userId, {
    method: 'POST',
    url: '/v1/orders',
    payload: { items: [{ productId: product.id, quantity: 1 }] },
  });
  expect(placed.statusCode).toBe(201);
  const orderId = placed.json<{ id: string }>().id;
  expect(
    (
      await api.as(userId, {
        method: 'POST',
        url: `/v1/orders/${orderId}/payment`,
        payload: { paymentMethod: 'pm_card_visa' },
      })
    ).statusCode,
  ).toBe(200);
  const workflowId = orderWorkflowId(orderId);
  await api.temporal.client.workflow.getHandle(workflowId).result();
  // Workflow spans leave the sandbox through a sink once their activation is done: the run's span ends last.
  await waitUntil(
    'the workflow span',
    async () => spans().some((span) => span.name === 'RunWorkflow:checkoutWorkflow' && workflowOf(span) === workflowId),
    {
      timeoutMs: 30_000,
    },
  );
  return { orderId, workflowId };
}

/** The server span of a request to `url` (the route's path with the order id filled in). */
function requestSpan(route: string, orderId?: string): ReadableSpan {
  const requests = spans().filter(
    (span) => span.name === route && span.attributes['http.response.status_code'] !== undefined,
  );
  const matching = orderId
    ? requests.filter((span) =>
        spans().some((other) => traceOf(other) === traceOf(span) && workflowOf(other) === orderWorkflowId(orderId)),
      )
    : requests;
  expect(matching).toHaveLength(1);
  return matching[0]!;
}

it('makes each checkout one trace: the placing request, the workflow run and a span for every activity it ran', async () => {
  const checkouts = await Promise.all([checkout(), checkout()]);

  const traceIds = new Set<string>();
  for (const { orderId, workflowId } of checkouts) {
    const placing = requestSpan('POST /v1/orders', orderId);
    const checkoutTrace = traceOf(placing);
    traceIds.add(checkoutTrace);
    expect(placing.parentSpanId).toBeUndefined();

    // The run hangs off the placement's update-with-start, which hangs off the request.
    const byId = new Map(spans().map((span) => [span.spanContext().spanId, span]));
    const run = spans().find(
      (span) => span.name === 'RunWorkflow:checkoutWorkflow' && workflowOf(span) === workflowId,
    )!;
    expect(traceOf(run)).toBe(checkoutTrace);
    expect(byId.get(run.parentSpanId!)?.name).toBe('UpdateWithStartWorkflow:placed');
    expect(byId.get(run.parentSpanId!)?.parentSpanId).toBe(placing.spanContext().spanId);

    // Every activity the workflow scheduled (its history says which) has its span, and all of them are in this trace.
    const history = await api.temporal.client.workflow.getHandle(workflowId).fetchHistory();
    const scheduled = (history.events ?? []).flatMap((event) => {
      const attributes = event.activityTaskScheduledEventAttributes;
      return attributes ? [{ id: attributes.activityId!, type: attributes.activityType!.name! }] : [];
    });
    expect(scheduled.map(({ type }) => type)).toEqual(
      expect.arrayContaining([
        'reserveOrderQuota',
        'createOrder',
        'reserveStock',
        'chargePayment',
        'commitStock',
        'clearCart',
      ]),
    );
    const activitySpans = spans().filter(
      (span) => span.name.startsWith('RunActivity:') && workflowOf(span) === workflowId,
    );
    expect(new Set(activitySpans.map(traceOf))).toEqual(new Set([checkoutTrace]));
    expect(new Set(activitySpans.map((span) => `${span.attributes.temporalActivityId} ${span.name}`))).toEqual(
      new Set(scheduled.map(({ id, type }) => `${id} RunActivity:${type}`)),
    );
    // ...each under the run's span through its schedule span.
    for (const activity of activitySpans) expect(byId.get(byId.get(activity.parentSpanId!)!.parentSpanId!)).toBe(run);

    // The payment request is a trace of its own: the update and its handler, no activity, and a link to the run.
    const paying = requestSpan('POST /v1/orders/:id/payment', orderId);
    expect(traceOf(paying)).not.toBe(checkoutTrace);
    const inPayment = spans().filter((span) => traceOf(span) === traceOf(paying));
    expect(
      inPayment.filter((span) => span.name.startsWith('RunActivity:') || span.name.startsWith('StartActivity:')),
    ).toEqual([]);
    const handler = inPayment.find((span) => span.name === 'HandleUpdate:pay')!;
    expect(handler.links).toEqual([
      {
        context: expect.objectContaining({ traceId: checkoutTrace, spanId: run.spanContext().spanId }),
        attributes: RUN_LINK_ATTRIBUTES,
      },
    ]);
  }
  expect(traceIds.size).toBe(2);

  // The request's log lines name the trace (all but Fastify's "incoming request", written before any hook runs).
  const placing = requestSpan('POST /v1/orders', checkouts[0]!.orderId);
  const requestLines = logLines.filter(
    (line) => line.reqId === placing.attributes['storefront.request_id'] && line.msg !== 'incoming request',
  );
  expect(requestLines.map((line) => line.msg)).toContain('request completed');
  expect(requestLines.every((line) => line.trace_id === traceOf(placing) && typeof line.span_id === 'string')).toBe(
    true,
  );
});

it("keeps a user's notification workflow out of the trace of the request that started it, linked to it", async () => {
  const userId = `tracer-usage-${randomUUID().slice(0, 8)}`;
  // 90 of the free plan's 100 builds crosses the 80 % warning: the API signals-with-start the user's notification workflow.
  const used = await api.as(userId, {
    method: 'POST',
    url: '/v1/usage',
    payload: { resource: 'builds', quantity: 90, idempotencyKey: randomUUID() },
  });
  expect(used.statusCode).toBe(200);
  const workflowId = notificationWorkflowId(userId);
  await waitUntil(
    'the notification to be persisted',
    async () =>
      spans().some((span) => span.name === 'RunActivity:persistNotification' && workflowOf(span) === workflowId),
    {
      timeoutMs: 30_000,
    },
  );

  const request = spans().find(
    (span) =>
      span.name === 'POST /v1/usage' &&
      spans().some((other) => traceOf(other) === traceOf(span) && workflowOf(other) === workflowId),
  )!;
  expect(request).toBeDefined();
  const persisted = spans().find(
    (span) => span.name === 'RunActivity:persistNotification' && workflowOf(span) === workflowId,
  )!;
  expect(traceOf(persisted)).not.toBe(traceOf(request));
  // The signal's handler, in the request's trace, links to the run that persisted it.
  const handler = spans().find((span) => span.name === 'HandleSignal:notify' && workflowOf(span) === workflowId)!;
  expect(traceOf(handler)).toBe(traceOf(request));
  expect(handler.links).toEqual([
    { context: expect.objectContaining({ traceId: traceOf(persisted) }), attributes: RUN_LINK_ATTRIBUTES },
  ]);
});
