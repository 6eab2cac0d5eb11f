import { orderTimeline } from './order-timeline';
import type { RefundView } from '../services/payments/refunds.service';

const at = (second: number) => new Date(Date.UTC(2026, 11, 7, 18, 0, second));

const refund = (id: string, second: number, status: RefundView['status']): RefundView => ({
  id,
  orderId: 'o',
  status,
  amountCents: 1_299,
  currency: 'usd',
  lines: [],
  restock: false,
  reason: 'Arrived chipped',
  requestHash: null,
  stripeRefundId: null,
  failure: null,
  createdAt: at(second),
});

test('an order reads as its statuses and refunds in time order, without the reasons operators keep', () => {
  const history = [
    { from: null, to: 'PENDING' as const, reason: null, at: at(0) },
    { from: 'PENDING' as const, to: 'AWAITING_PAYMENT' as const, reason: null, at: at(0) },
    { from: 'AWAITING_PAYMENT' as const, to: 'PAID' as const, reason: null, at: at(2) },
    { from: 'PAID' as const, to: 'COMPLETED' as const, reason: null, at: at(3) },
    { from: 'COMPLETED' as const, to: 'PARTIALLY_REFUNDED' as const, reason: 'Refund r1: 1299 cents', at: at(11) },
  ];
  const timeline = orderTimeline({ history }, [refund('r1', 10, 'SUCCEEDED'), refund('r2', 20, 'FAILED')]);
  expect(timeline.map((entry) => [entry.at.slice(17, 19), entry.kind, entry.status])).toEqual([
    ['00', 'status', 'PENDING'],
    ['00', 'status', 'AWAITING_PAYMENT'],
    ['02', 'status', 'PAID'],
    ['03', 'status', 'COMPLETED'],
    ['10', 'refund', 'SUCCEEDED'],
    ['11', 'status', 'PARTIALLY_REFUNDED'],
    ['20', 'refund', 'FAILED'],
  ]);
  expect(timeline[0]).toEqual({ at: at(0).toISOString(), kind: 'status', status: 'PENDING', from: null });
  expect(timeline[4]).toEqual({
    at: at(10).toISOString(),
    kind: 'refund',
    refundId: 'r1',
    status: 'SUCCEEDED',
    amountCents: 1_299,
    currency: 'usd',
    reason: 'Arrived chipped',
  });
  expect(JSON.stringify(timeline)).not.toContain('1299 cents');
});
