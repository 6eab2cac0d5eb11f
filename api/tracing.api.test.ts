/**
 * Tracing across the API, the workflow and its activities, seen by an in-memory exporter: a
 * checkout placed and paid through the API is the order request's trace (the workflow's span and
 * its activities) plus the payment request's (the charge it set going); every activity the workflow
 * ran has its span in one of them, and the API's log lines for the request carry its trace id.
 */
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { randomUUID } from 'node:crypto';
import { installTracing, type Tracing } from '../lib/tracing';
import { waitUntil } from '../harness/waits';
import { orderWorkflowId } from '../workflows/contract';
import { startApiHarness, type ApiHarness } from '../test/helpers/api';

jest.setTimeout(120_000);

const exporter = new InMemorySpanExporter();
const logLines: Record<string, unknown>[] = [];
let tracing: Tracing;
let api: ApiHarness;

beforeAll(async () => {
  tracing = installTracing({ serviceName: 'storefront-test', exporter })!;
  api = await startApiHarness({
    temporal: { tracing },
    app: {
      tracing,
      logger: { level: 'info', stream: { write: (line: string) => void logLines.push(JSON.parse(line) as Record<string, unknown>) } },
    },
  });
});
afterAll(async () => {
  await api?.close();
  await tracing?.shutdown();
});

it('follows a checkout from its API requests through the workflow to every activity', async () => {
  const product = await api.services.inventory.createProduct({ sku: `TRC-${randomUUID().slice(0, 8)}`, name: 'Traced mug', priceCents: 900, available: 2 });
  const userId = `tracer-${randomUUID().slice(0, 8)}`;
  const placed = await api.as(userId, { method: 'POST', url: '/v1/orders', payload: { items: [{ productId: product.id, quantity: 1 }] } });
  expect(placed.statusCode).toBe(201);
  const orderId = placed.json<{ id: string }>().id;
  expect((await api.as(userId, { method: 'POST', url: `/v1/orders/${orderId}/payment`, payload: { paymentMethod: 'pm_card_visa' } })).statusCode).toBe(200);

  const handle = api.temporal.client.workflow.getHandle(orderWorkflowId(orderId));
  await handle.result();
  // Workflow spans leave the sandbox through a sink once their activation is done: wait for the workflow's own span to end.
  const spans = (): ReadableSpan[] => exporter.getFinishedSpans();
  await waitUntil('the workflow span', async () => spans().some((span) => span.name === 'RunWorkflow:checkoutWorkflow'), { timeoutMs: 30_000 });

  const request = spans().find((span) => span.name === 'POST /v1/orders' && span.attributes['http.response.status_code'] === 201)!;
  expect(request).toBeDefined();
  const traceId = request.spanContext().traceId;
  const inTrace = spans().filter((span) => span.spanContext().traceId === traceId);
  expect(inTrace.map((span) => span.name)).toEqual(expect.arrayContaining(['POST /v1/orders', 'UpdateWithStartWorkflow:placed', 'RunWorkflow:checkoutWorkflow']));

  // Every activity the workflow scheduled (from its history) has its span, and in a trace an API request began:
  // the order's, except what the payment request set going (the charge), which is in the payment request's trace.
  const payment = spans().find((span) => span.name === 'POST /v1/orders/:id/payment')!;
  expect(payment).toBeDefined();
  const paymentTraceId = payment.spanContext().traceId;
  const history = await handle.fetchHistory();
  const scheduled = (history.events ?? []).map((event) => event.activityTaskScheduledEventAttributes?.activityType?.name).filter((name): name is string => !!name);
  expect(scheduled).toEqual(expect.arrayContaining(['reserveOrderQuota', 'reserveStock', 'chargePayment', 'commitStock', 'clearCart']));
  const ofOrder = spans().filter((span) => span.name.startsWith('RunActivity:') && [traceId, paymentTraceId].includes(span.spanContext().traceId));
  expect(ofOrder.map((span) => span.name.replace('RunActivity:', '')).sort()).toEqual(expect.arrayContaining([...scheduled].sort()));
  const placementActivities = inTrace.filter((span) => span.name.startsWith('RunActivity:')).map((span) => span.name.replace('RunActivity:', ''));
  expect(placementActivities).toEqual(expect.arrayContaining(['reserveOrderQuota', 'createOrder', 'reserveStock']));
  for (const root of [request, payment]) expect(root.parentSpanId).toBeUndefined();

  // The request's log lines name the trace (all but Fastify's "incoming request", written before any hook runs).
  const requestLines = logLines.filter((line) => line.reqId === request.attributes['storefront.request_id'] && line.msg !== 'incoming request');
  expect(requestLines.map((line) => line.msg)).toContain('request completed');
  expect(requestLines.every((line) => line.trace_id === traceId && typeof line.span_id === 'string')).toBe(true);
});
