/** The refund command's own arguments, and what it says of a refund and of a refusal (the saga itself: workflows/refund/). */
import { randomUUID } from 'node:crypto';
import type { RefundDeps } from '../temporal/refund-client';
import { parseRefundArgs, runRefundCommand } from './refunds';
import { OperationError } from './orders';

const orderId = randomUUID();
const productId = randomUUID();

test('reads the order, lines or amount, reason, restock and key', () => {
  expect(
    parseRefundArgs(['refund', orderId, '--lines', `${productId}:2`, '--reason=broken', '--restock', '--key', 'k1']),
  ).toEqual({
    positional: [orderId],
    lines: `${productId}:2`,
    amount: undefined,
    reason: 'broken',
    key: 'k1',
    restock: true,
    json: false,
  });
  expect(() => parseRefundArgs(['refund', orderId, '--amount'])).toThrow(OperationError);
  expect(() => parseRefundArgs(['refund', orderId, '--everything'])).toThrow(/unknown option --everything/);
});

/** Deps whose order is unknown: the command reaches the saga's client only past its own checks. */
const deps = (request = jest.fn()): RefundDeps => ({
  orders: { get: async () => null },
  refunds: { get: async () => null, refundable: async () => undefined },
  client: { request } as unknown as RefundDeps['client'],
});

test('refuses what is malformed before anything runs', async () => {
  const out: string[] = [];
  const run = (argv: string[]) => runRefundCommand(parseRefundArgs(argv), deps(), (line) => out.push(line));
  await expect(run(['refund', orderId])).rejects.toThrow(/--reason/);
  await expect(run(['refund', 'nope', '--reason', 'x'])).rejects.toThrow(/order id/);
  await expect(run(['refund', orderId, '--reason', 'x', '--amount', '0'])).rejects.toThrow(/--amount/);
  await expect(run(['refund', orderId, '--reason', 'x', '--amount', '1', '--lines', `${productId}:1`])).rejects.toThrow(
    /not both/,
  );
  await expect(run(['refund', orderId, '--reason', 'x', '--lines', `${productId}:0`])).rejects.toThrow(/--lines/);
  await expect(run(['refund', orderId, '--reason', 'a\u0000b'])).rejects.toThrow(/--reason/);
});

test('says why the store refused, and exits 1', async () => {
  const out: string[] = [];
  const request = jest.fn();
  const code = await runRefundCommand(parseRefundArgs(['refund', orderId, '--reason', 'x']), deps(request), (line) =>
    out.push(line),
  );
  expect(code).toBe(1);
  expect(out).toEqual([`refused: ORDER_NOT_FOUND: No order ${orderId}`]);
  expect(request).not.toHaveBeenCalled();
});
