/**
 * `npm run ops -- refund <orderId> [--lines productId:qty,...|--amount CENTS] --reason TEXT [--restock]
 * [--key KEY]`: an operator's refund after the sale, through the same refund saga as the API's
 * (temporal/refund-client.ts). The key defaults to one derived from the request, so running the same
 * command twice finds the same refund instead of refunding twice.
 */
import { createHash } from 'node:crypto';
import { DomainError } from '../lib/errors';
import { isUuid } from '../lib/ids';
import { isStorableText } from '../lib/text';
import { formatMoney } from '../workflows/checkout/summaries';
import { requestRefund, type RefundDeps, type RefundRequest } from '../temporal/refund-client';
import { OperationError } from './orders';

export const REFUND_USAGE = `  refund <orderId> [--lines PRODUCT:QTY,...|--amount CENTS] --reason TEXT [--restock] [--key KEY]
                                                           refund a sold order (neither --lines nor --amount: everything left);
                                                           the same command again finds the same refund (its key)`;

export const REFUND_COMMANDS = new Set(['refund']);

export interface RefundCommandInput {
  positional: readonly string[];
  lines?: string;
  amount?: string;
  reason?: string;
  restock: boolean;
  key?: string;
  json: boolean;
}

const VALUE_FLAGS = new Set(['lines', 'amount', 'reason', 'key']);
const BOOLEAN_FLAGS = new Set(['restock', 'json']);

/** The command line after `refund`: its order id and its own flags (`--name value` or `--name=value`). */
export function parseRefundArgs(argv: readonly string[]): RefundCommandInput {
  const positional: string[] = [];
  const values = new Map<string, string>();
  const booleans = new Set<string>();
  for (let i = 1; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const [name, inline] = arg.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    if (VALUE_FLAGS.has(name)) {
      const value = inline ?? argv[++i];
      if (value === undefined) throw new OperationError(`--${name} needs a value`);
      values.set(name, value);
    } else if (BOOLEAN_FLAGS.has(name)) booleans.add(name);
    else throw new OperationError(`unknown option --${name}\n${REFUND_USAGE}`);
  }
  return {
    positional,
    lines: values.get('lines'),
    amount: values.get('amount'),
    reason: values.get('reason'),
    key: values.get('key'),
    restock: booleans.has('restock'),
    json: booleans.has('json'),
  };
}

/** `id:2,id:1` as lines. */
export function parseLines(raw: string): { productId: string; quantity: number }[] {
  return raw.split(',').map((part) => {
    const [productId, quantity] = part.split(':');
    const units = Number(quantity);
    if (!productId || !isUuid(productId) || !Number.isInteger(units) || units < 1)
      throw new OperationError(`--lines takes PRODUCT_ID:QUANTITY pairs separated by commas, got "${part}"`);
    return { productId, quantity: units };
  });
}

/** The refund a command line asks for, checked, with its key: the one given, or one derived from the request. */
export function refundRequestOf(input: RefundCommandInput, usage = REFUND_USAGE): RefundRequest {
  const orderId = input.positional[0];
  if (!orderId || !isUuid(orderId)) throw new OperationError(`refund needs an order id\n${usage}`);
  if (!input.reason || !isStorableText(input.reason) || input.reason.length > 500)
    throw new OperationError('refund needs --reason TEXT (1 to 500 characters): the customer and the records see it');
  if (input.lines !== undefined && input.amount !== undefined)
    throw new OperationError('refund takes --lines or --amount, not both');
  const amountCents = input.amount === undefined ? undefined : Number(input.amount);
  if (amountCents !== undefined && (!Number.isInteger(amountCents) || amountCents < 1))
    throw new OperationError(`--amount takes whole cents, at least 1, got "${input.amount}"`);
  const lines = input.lines === undefined ? undefined : parseLines(input.lines);
  const request = { lines, amountCents, reason: input.reason, restock: input.restock };
  const idempotencyKey =
    input.key ??
    `ops:${createHash('sha256')
      .update(JSON.stringify([orderId, request]))
      .digest('hex')
      .slice(0, 32)}`;
  return { orderId, idempotencyKey, requestedBy: 'ops', ...request };
}

export async function runRefundCommand(
  input: RefundCommandInput,
  deps: RefundDeps,
  out: (line: string) => void,
): Promise<number> {
  const request = refundRequestOf(input);
  try {
    const { refund, replayed } = await requestRefund(deps, request);
    if (input.json) out(JSON.stringify({ ...refund, replayed }, null, 2));
    else {
      out(
        `refund ${refund.id}: ${refund.status}, ${formatMoney(refund.amountCents, refund.currency)}` +
          `${refund.lines.length ? `, ${refund.lines.map((l) => `${l.quantity} × ${l.productId}`).join(', ')}` : ''}` +
          `${refund.restock ? ' (restocked)' : ''}${replayed ? ' (found: the same refund was asked for before)' : ''}`,
      );
      if (refund.failure) out(`  ${refund.failure.code}: ${refund.failure.message}`);
    }
    return refund.status === 'FAILED' ? 1 : 0;
  } catch (error) {
    if (error instanceof DomainError) {
      out(`refused: ${error.code}: ${error.message}`);
      return 1;
    }
    throw error;
  }
}
