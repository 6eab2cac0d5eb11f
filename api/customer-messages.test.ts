import { customerFailure, customerOrderPayload } from './customer-messages';

test('a business refusal keeps its message; anything else is told in a plain sentence', () => {
  expect(customerFailure({ code: 'OUT_OF_STOCK', message: 'Only 2 of MUG left, 5 wanted' })).toEqual({
    code: 'OUT_OF_STOCK',
    message: 'Only 2 of MUG left, 5 wanted',
  });
  const raw = 'Invalid `prisma.order.create()` invocation: value "2147483648" is out of range for type integer';
  const told = customerFailure({ code: 'FAILED', message: raw });
  expect(told.code).toBe('FAILED');
  expect(told.message).not.toContain('prisma');
  expect(
    customerFailure({ code: 'COMPENSATION_FAILED', message: 'releaseStock: connect ECONNREFUSED 10.0.0.1:5432' })
      .message,
  ).toMatch(/our team/);
});

test('an order status payload has its failure made customer-safe, and is otherwise untouched', () => {
  const payload = {
    orderId: 'o',
    status: 'FAILED',
    failure: { code: 'FAILED', message: 'StripeConnectionError: socket hang up' },
  };
  expect(customerOrderPayload(payload)).toEqual({
    ...payload,
    failure: { code: 'FAILED', message: expect.not.stringContaining('Stripe') },
  });
  const paid = { orderId: 'o', status: 'PAID', failure: null };
  expect(customerOrderPayload(paid)).toBe(paid);
});
